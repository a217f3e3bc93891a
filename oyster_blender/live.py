"""Live mode from Blender: fly a camera, see the runtime's frames as they come, keep the flight as a shot.

`LiveRecorder` follows a source camera (the active camera moved by the viewport's
walk/fly navigation with Lock Camera to View, or by hand). Each `tick()` (a
`bpy.app.timers` callback; it never waits) takes in the frames that arrived,
writes the newest into the image `Oyster Live` (show it in an image editor), and,
once the previous frame is back, reads the source camera, keyframes it on a new
camera `<source> live take` and sends it to the runtime. One pose is in flight
at a time, so the flight is recorded at the model's own frame rate and every
keyframe has its generated frame: playing the recorded camera at the scene's fps
gives the frames the artist saw. The HTTP calls run on a daemon thread.

With a painter model (the default) each pose goes with the blockout's triangles,
written by `oyster_blender.blockout_mesh.LiveBlockout` into a scratch folder the
runtime reads, once and again only when something drawn changes; the runtime draws
the passes at each pose itself, so the tick that sends a pose renders nothing
(docs/decisions.md, "Live passes drawn by the runtime"). The folder goes when the
flight ends.

Stdlib and bpy only (docs/runtime_api.md, "Live mode").
"""
from __future__ import annotations

import json
import queue
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any, NamedTuple

import bpy

from . import api
from .camera import _depsgraph, camera_frame, check_camera, render_size
from .client import API, RuntimeClient, RuntimeClientError, _describe
from .core import camera_math
from .core.errors import OysterError, ShotError
from .blockout_mesh import LiveBlockout

LIVE_IMAGE = "Oyster Live"
INDEX_HEADER = "X-Oyster-Frame-Index"
MODEL_SECONDS_HEADER = "X-Oyster-Model-Seconds"
TICK_INTERVAL = 0.004  # seconds between timer calls: a frame waits 2 ms for its tick on average; an idle tick costs µs
LIVE_MODEL = "oyster-painter"  # the runtime's live default: paints the camera's blockout passes
LIVE_PIXELS = 384 * 216  # live frames are at most this many pixels (the painter's native size), the shot's aspect
FPS_WINDOW = 12  # frames shown: the frame rate is taken over the newest of them


def paints_passes(model: str) -> bool:
    """Whether a live flight with `model` sends the blockout's passes with each pose (empty: the default)."""
    return not model or model.startswith(api.PAINTERS)


def live_size(size: tuple[int, int]) -> tuple[int, int]:
    """A shot's size brought down to at most LIVE_PIXELS, keeping its aspect (live is a preview)."""
    width, height = size
    factor = min(1.0, (LIVE_PIXELS / (width * height)) ** 0.5)
    return max(1, round(width * factor)), max(1, round(height * factor))


class LiveFrame(NamedTuple):
    index: int
    image: bytes
    """The generated frame, encoded (BMP)."""
    model_seconds: float
    """The model's own time for this frame in the runtime; the rest of a round trip is plumbing."""


class LiveClient:
    """The `/v1/live` routes of one runtime; blocking calls, for a background thread."""

    def __init__(self, client: RuntimeClient):
        self.client = client

    def _request(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> tuple[Message, bytes]:
        headers = {"Content-Type": "application/json"}
        if self.client.token:
            headers["Authorization"] = f"Bearer {self.client.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.client.base_url + API + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.client.timeout) as response:
                return response.headers, response.read()  # looked up case-insensitively
        except urllib.error.HTTPError as error:
            message, fields = _describe(error.code, error.read())
            raise RuntimeClientError(message, error.code, fields) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RuntimeClientError(f"the runtime at {self.client.base_url} is not reachable: {reason}") from None

    def start(self, request: dict[str, Any], timeout: float = 600.0) -> str:
        """Open a session (waits while the runtime loads the model); returns its id."""
        return json.loads(self._request("POST", "/live", request, timeout)[1])["session_id"]

    def step(self, session_id: str, frame: dict[str, Any]) -> LiveFrame:
        """The generated frame for one camera frame `{c2w, fx, fy, cx, cy}`."""
        headers, image = self._request("POST", f"/live/{urllib.parse.quote(session_id)}/frames", frame, 120.0)
        return LiveFrame(int(headers[INDEX_HEADER]), image, float(headers[MODEL_SECONDS_HEADER]))

    def close(self, session_id: str) -> None:
        self._request("DELETE", f"/live/{urllib.parse.quote(session_id)}")


def show_frame(name: str, encoded: bytes) -> bpy.types.Image:
    """Put an encoded frame (any file format Blender reads; the runtime sends BMP) into the image
    datablock `name` (made if missing) without touching the disk or looping over pixels in Python."""
    image = bpy.data.images.get(name) or bpy.data.images.new(name, 1, 1)
    image.pack(data=encoded, data_len=len(encoded))
    image.source = "FILE"
    image.buffers_free()  # the next draw (or pixels read) decodes the new packed frame, in C
    return image


class LiveRecorder:
    """One live flight: `start()`, call `tick()` (or let the timer), `stop()`, then `to_shot()`."""

    def __init__(self, scene: bpy.types.Scene, source: bpy.types.Object, client: RuntimeClient, *,
                 model: str = LIVE_MODEL, notes: str = "", seed: int = 0, size: tuple[int, int] | None = None,
                 first_frame: dict[str, str] | None = None, scratch: Path | None = None,
                 frame_start: int | None = None, image_name: str = LIVE_IMAGE, blockout_parent: Path | None = None,
                 shot_size: tuple[int, int] | None = None):
        """`blockout_parent`: where the scratch folder of a painter's blockout file is made (a folder the runtime
        reads; default: the system's temporary folder, fine for a local runtime). `shot_size`: the size of a shot
        kept from the flight (default: the live size)."""
        self.scene, self.source = scene, check_camera(source)
        self.width, self.height = size if size is not None else live_size(render_size(scene))
        self.shot_size = shot_size or (self.width, self.height)
        self.frame_start = scene.frame_start if frame_start is None else frame_start
        self.model, self.notes, self.seed, self.image_name = model, notes, seed, image_name
        self.request = {"model": model, "notes": notes, "seed": seed, "width": self.width, "height": self.height,
                        "fps": scene.render.fps / scene.render.fps_base,
                        "scale": camera_math.shot_scale(scene.unit_settings.scale_length)}
        if first_frame is not None:
            self.request["first_frame"] = first_frame
        self.scratch = scratch
        """A folder to delete once the runtime has read the start's files (a first frame rendered for it)."""
        self.blockout_parent = blockout_parent
        self.blockout: LiveBlockout | None = None
        """The blockout file of a painter's flight (made by `start()`); `blockout.seconds`: each pose's time on it."""
        self.shown_at: list[float] = []
        """perf_counter() of each frame shown."""
        self.live = LiveClient(client)
        self.camera: bpy.types.Object | None = None
        """The recorded camera, made by `start()`."""
        self.sent = 0
        self.indices: list[int] = []
        """Frame indices as the runtime answered them, in order."""
        self.latency: list[tuple[float, float]] = []
        """Per frame shown: (seconds from reading its pose to showing it, the model's own seconds in the
        runtime). The difference is the live plumbing (docs/runtime_api.md, "Live mode")."""
        self.error: str | None = None
        """Why the flight stopped early (the runtime refused or could not be reached)."""
        self._frames: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[LiveFrame | str] = queue.SimpleQueue()
        self._sent_at = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True, name="oyster-live")
        self._running = False

    def start(self, timer: bool = True) -> "LiveRecorder":
        """Make the take camera, open the session (on the thread) and, with `timer`, register `tick`."""
        source = self.source
        data = source.data.copy()
        data.animation_data_clear()
        self.camera = bpy.data.objects.new(f"{source.name} live take", data)
        self.camera.rotation_mode = "XYZ"
        self.scene.collection.objects.link(self.camera)
        if paints_passes(self.model):
            try:
                parent = self.blockout_parent or Path(tempfile.gettempdir())
                parent.mkdir(parents=True, exist_ok=True)
                folder = Path(tempfile.mkdtemp(prefix="live_", dir=parent))
            except OSError as error:
                raise OysterError(f"cannot make a folder for the live blockout in {parent}: "
                                  f"{error.strerror or error}") from None
            self.blockout = LiveBlockout(self.scene, self.source, folder)
        self._running = True
        self._thread.start()
        if timer:
            bpy.app.timers.register(self.tick, first_interval=0.0)
        return self

    def stop(self) -> None:
        """End the flight; the session closes on the thread after the frame in flight."""
        if self._running:
            self._running = False
            self._frames.put(None)
        if bpy.app.timers.is_registered(self.tick):
            bpy.app.timers.unregister(self.tick)
        if self.blockout is not None:
            self.blockout.close()  # the handlers; the thread deletes the folder once the session is closed

    def fps(self) -> float | None:
        """Frames shown per second over the newest FPS_WINDOW frames (None before two were shown)."""
        times = self.shown_at[-FPS_WINDOW:]
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else None

    @property
    def waiting(self) -> bool:
        """A pose was sent and its frame has not come back yet."""
        return len(self.indices) < self.sent

    def tick(self) -> float | None:
        """Take in answers, show the newest frame, send the next pose when none is in flight. Never waits."""
        newest = None
        while True:
            try:
                answer = self._answers.get_nowait()
            except queue.Empty:
                break
            if isinstance(answer, str):
                self.error = answer
                self.stop()
                return None
            self.indices.append(answer.index)
            newest = answer
        if newest is not None:
            show_frame(self.image_name, newest.image)
            _redraw_image_editors()
            self.shown_at.append(time.perf_counter())
            self.latency.append((self.shown_at[-1] - self._sent_at, newest.model_seconds))
        if not self._running:
            return None
        if not self.waiting:
            self._sent_at = time.perf_counter()
            try:
                frame = self._record()
            except OysterError as error:  # the blockout could not be written: the flight ends saying why
                self.error = str(error)
                self.stop()
                return None
            self._frames.put(frame)
            self.sent += 1
        return TICK_INTERVAL

    def _record(self) -> dict[str, Any]:
        """Keyframe the source camera's pose and lens on the take camera; its frame for the runtime."""
        depsgraph = _depsgraph(self.scene)
        evaluated = self.source.evaluated_get(depsgraph)
        frame = self.frame_start + self.sent
        location, rotation, _ = evaluated.matrix_world.decompose()
        camera = self.camera
        camera.location = location
        camera.rotation_euler = rotation.to_euler("XYZ", camera.rotation_euler)  # no 360 degree flips between keys
        camera.data.lens = evaluated.data.lens
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_euler", frame=frame)
        camera.data.keyframe_insert("lens", frame=frame)
        pose = camera_frame(evaluated, self.scene.render, self.width, self.height)
        if self.blockout is not None:
            pose["blockout"] = self.blockout.current(depsgraph)  # the runtime draws its passes at this pose
        return pose

    def _run(self) -> None:
        session_id = None
        try:
            session_id = self._open()
            while (frame := self._frames.get()) is not None:
                self._answers.put(self.live.step(session_id, frame))
        except RuntimeClientError as error:
            self._answers.put(str(error))
        finally:
            if session_id is not None:
                try:
                    self.live.close(session_id)
                except RuntimeClientError:
                    pass  # the runtime is gone or closed it already: nothing is left open
            if self.blockout is not None:  # no pose is in flight any more: the runtime has read the blockout
                shutil.rmtree(self.blockout.folder, ignore_errors=True)

    def _open(self) -> str:
        """Start the runtime's session; the scratch folder goes once the runtime has answered."""
        try:
            return self.live.start(self.request)
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)

    def frame_range(self) -> tuple[int, int]:
        """The recorded frames, first and last (inclusive)."""
        return self.frame_start, self.frame_start + self.sent - 1

    def to_shot(self, name: str | None = None) -> Any:
        """The flight as a new shot on the take camera (its frames, size, notes and seed); the scene's
        frame range grows to hold it. Needs the extension registered (the shots live on Scene.oyster)."""
        start, end = self.frame_range()
        if end < start:
            raise ShotError("nothing was recorded: fly the camera while live mode runs")
        self.scene.frame_end = max(self.scene.frame_end, end)
        return api.add_shot(self.scene, name, self.camera, start, end, notes=self.notes, seed=self.seed,
                            resolution=self.shot_size, fps=self.request["fps"])


def _redraw_image_editors() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "IMAGE_EDITOR":
                area.tag_redraw()
