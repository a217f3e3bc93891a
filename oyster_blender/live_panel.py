"""Live mode in the panel: Go Live flies the scene camera through the runtime, Stop ends the flight,
Keep as Shot turns the recorded camera into a shot (oyster_blender.live.LiveRecorder does the work).

The flight uses the active shot's model, notes, seed and size when there is one (else the
runtime's live default, the painter, at the scene's output size), brought down to the live size
(at most 384x216 pixels, the painter's native size, same aspect). With the painter, the flight writes the
blockout's triangles into the shot's folder (`.live/`; the system's temporary folder for an unsaved
file) when it starts and whenever something drawn changes; the runtime draws the passes at every
pose and the painter paints each frame over them.
Another model starts at the current frame from the camera's view of the blockout when the shot
starts from it (else from the notes alone). Frames show in the image `Oyster Live` (open it in an
image editor); the panel shows the frame rate.
"""
from __future__ import annotations

import bpy

from . import api, first_frame, runtime_session
from .camera import render_size
from .core.errors import OutputError, OysterError
from .live import LIVE_IMAGE, LIVE_MODEL, LiveRecorder, live_size, paints_passes
from .polls import allow, no_data, reports_errors
from .preferences import runtime_settings
from .runtime_status import READY, STATUS
from .ui import SubPanel

_flight: LiveRecorder | None = None
"""The current flight, or the last one (stopped) until it is kept or another starts."""
_tick = None
"""The flight's timer callback, registered here as one bound method (timers are found by identity)."""


def flying() -> bool:
    """A flight runs: its timer is registered (Blender drops it when the tick ends the flight) and no error."""
    return _tick is not None and bpy.app.timers.is_registered(_tick) and _flight.error is None


def _stop_flight() -> None:
    global _tick
    if _tick is not None and bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    _tick = None
    if _flight is not None:
        _flight.stop()


class OYSTER_OT_live_start(bpy.types.Operator):
    """Fly the scene camera (e.g. View > Navigation > Fly with Lock Camera to View) and see the model answer"""

    bl_idname = "oyster.live_start"
    bl_label = "Go Live"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = no_data(context)
        if reason is None and flying():
            reason = "live mode is running"
        if reason is None and (runtime_session.current() is None or STATUS.snapshot().state != READY):
            reason = "start the runtime first (Start Runtime)"
        if reason is None and context.scene.camera is None:
            reason = "the scene has no camera to fly"
        return allow(cls, reason)

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        global _flight, _tick
        _stop_flight()
        scene = context.scene
        shot = api.active_shot(scene)
        settings = {"model": LIVE_MODEL, "shot_size": render_size(scene)}
        if shot is not None:
            settings |= {"model": shot.model or LIVE_MODEL, "notes": shot.notes, "seed": shot.seed,
                         "shot_size": (shot.resolution_x, shot.resolution_y)}
        settings["size"] = live_size(settings["shot_size"])
        if paints_passes(settings["model"]):
            if not settings.get("notes", "").strip():
                raise OysterError("the painter needs scene notes: add a shot with notes (they set the look)")
            settings["blockout_parent"] = _live_folder(context, shot)
        else:
            first = _blockout(context, shot, settings["size"])
            if first is not None:
                settings |= {"first_frame": first.request(), "scratch": first.folder}
        _flight = LiveRecorder(scene, scene.camera, runtime_session.current().connection.client,
                               frame_start=scene.frame_current, **settings)
        _flight.start(timer=False)
        _tick = _flight.tick
        bpy.app.timers.register(_tick, first_interval=0.0, persistent=True)
        start = ("painting the blockout" if _flight.blockout is not None else
                 "from the blockout" if "first_frame" in settings else "from the notes alone")
        self.report({"INFO"}, f"live {start}: fly '{scene.camera.name}', frames show in the image '{LIVE_IMAGE}'")
        return {"FINISHED"}


LIVE_FOLDER = ".live"  # in the shot's folder: the live blockout file, deleted when the flight ends


def _live_folder(context: bpy.types.Context, shot: bpy.types.PropertyGroup | None):
    """Where a painter flight's blockout file goes: the shot's folder (a studio runtime reads the project's disk, as
    for a take's inputs), or None (the system's temporary folder) for an unsaved file or no shot."""
    if shot is None:
        return None
    try:
        return api.shot_folder(api.output_root(bpy.data.filepath, runtime_settings(context).output_folder),
                               shot.name) / LIVE_FOLDER
    except OutputError:
        return None


def _blockout(context: bpy.types.Context, shot: bpy.types.PropertyGroup | None,
              size: tuple[int, int]) -> first_frame.FirstFrame | None:
    """The flight's first frame: the camera's view of the blockout when the shot starts from it and anything
    is in view, rendered into the shot's folder (where a studio runtime reads a take's first frame too). An
    unsaved .blend without an output folder has no such folder: that flight starts from the notes alone."""
    if shot is None or not shot.use_blockout:
        return None
    try:
        folder = api.shot_folder(api.output_root(bpy.data.filepath, runtime_settings(context).output_folder),
                                 shot.name)
    except OutputError:
        return None
    scene = context.scene
    return first_frame.blockout_first_frame(scene, scene.camera, scene.frame_current, size, folder)


class OYSTER_OT_live_stop(bpy.types.Operator):
    """End the live flight (its camera keeps the keyframes recorded so far)"""

    bl_idname = "oyster.live_stop"
    bl_label = "Stop Live"

    @classmethod
    def poll(cls, _context: bpy.types.Context) -> bool:
        return allow(cls, None if flying() else "live mode is not running")

    def execute(self, _context: bpy.types.Context) -> set[str]:
        _stop_flight()
        return {"FINISHED"}


class OYSTER_OT_live_keep(bpy.types.Operator):
    """Add the last flight as a shot: its recorded camera over the frames flown, with its notes and seed"""

    bl_idname = "oyster.live_keep"
    bl_label = "Keep as Shot"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, _context: bpy.types.Context) -> bool:
        if _flight is None or flying():
            return allow(cls, "stop a live flight first")
        return allow(cls, None if _flight.sent else "nothing was recorded")

    @reports_errors
    def execute(self, _context: bpy.types.Context) -> set[str]:
        global _flight
        shot = _flight.to_shot()
        _flight = None
        self.report({"INFO"}, f"added shot '{shot.name}' ({shot.frame_start}-{shot.frame_end})")
        return {"FINISHED"}


class OYSTER_PT_live(SubPanel, bpy.types.Panel):
    """Live mode: fly the camera, see the model answer, keep the flight"""

    bl_label = "Live"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, _context: bpy.types.Context) -> None:
        layout = self.layout
        row = layout.row(align=True)
        if flying():
            row.operator("oyster.live_stop", icon="PAUSE")
        else:
            row.operator("oyster.live_start", icon="PLAY")
        row.operator("oyster.live_keep", icon="ADD")
        if _flight is not None:
            for text, icon in flight_lines(_flight):
                layout.label(text=text, icon=icon)


def flight_lines(flight: LiveRecorder) -> list[tuple[str, str]]:
    """The panel's lines about a flight, (text, icon): frames and keyframes, the frame rate, the error."""
    lines = [(f"{len(flight.indices)} frames in '{LIVE_IMAGE}', {flight.sent} keyframes", "CAMERA_DATA")]
    fps = flight.fps()
    if fps is not None:
        model = "painting the blockout" if flight.blockout is not None else flight.model
        lines.append((f"{fps:.1f} frames/s at {flight.width}x{flight.height}, {model}", "TIME"))
    if flight.error:
        lines.append((flight.error, "ERROR"))
    return lines


classes = (OYSTER_OT_live_start, OYSTER_OT_live_stop, OYSTER_OT_live_keep, OYSTER_PT_live)
register, _unregister_classes = bpy.utils.register_classes_factory(classes)


def unregister() -> None:
    global _flight
    _stop_flight()
    _flight = None
    _unregister_classes()
