"""Previs export to editorial: mp4 with burn-ins, image sequences, OTIO + EDL + AAF, cameras as JSON, USD,
FBX and Alembic, techvis figures and a review page.

Everything lands under one export folder:

    <out>/previs.mp4                      H.264 from the sequencer, Blender's metadata stamp burnt in
    <out>/frames/<shot>_<take>/<shot>_<take>.NNNN.png   the active takes under editorial names
    <out>/edit.json                       the edit, as the runtime reads it (docs/timeline_export.md)
    <out>/previs.otio, .edl, .aaf         written by the runtime (opentimelineio and its adapters), from edit.json
    <out>/cameras/<shot>.json / .usda / .fbx / .abc   the shot's camera track and the animated camera alone
    <out>/techvis/<shot>.csv / .json      lens, height, tilt, pan, subject distance, travel, speed (techvis.py)
    <out>/review.html, <out>/review/      the review page and its thumbnails (review_page.py)

The mp4 is made in two passes: the sequencer is rendered to PNG frame by frame, in
short chunks, with the shot, take, the mattebox figures (focal length, camera height,
tilt), the notes and the lens in the stamp (the stamp has one note and one camera per
render), then the stamped frames are encoded in one go.
Each file is written under a temporary name and renamed, so a failed or cancelled
export never leaves half a file under a final name. The extension stays
stdlib-only: the editorial files are made by the runtime's interpreter.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import bpy
from bpy.props import BoolProperty, StringProperty

from . import review_page, techvis
from .camera import camera_track
from .core.errors import OysterError
from .core.naming import frame_file_name, sanitise_name
from .polls import allow, no_data, reports_errors
from .preferences import runtime_settings
from .settings import runtime_root
from .take_files import TAKE_JSON, list_takes
from .timeline import active_strip, present_frames, strip_folder
from .ui import SubPanel

MP4, EDIT_JSON, REVIEW = "previs.mp4", "edit.json", "review.html"
THUMBS_PER_SHOT, THUMB_WIDTH = 6, 192  # the review page's strip of each shot
RUNNING = ("queued", "running", "starting", "pending")  # take.json statuses of a take still being made
UNIFORM_SCALE = 1e-5  # relative spread of a parent's scale axes that still counts as uniform
STAMPED = ".previs.stamped"  # the stamped frames between the two passes; removed when the export ends
CHUNK_FRAMES = 24  # frames rendered per step: the granularity of progress and cancel
NOTE_CHARS = 200  # the stamp is one line
# Frame, timecode and lens along the bottom; "<shot> <take>  <notes>" as the note, top left, wrapped by
# Blender to the frame's width (the strip-name field sits top right and would overlap it on small frames).
STAMP_FIELDS = ("use_stamp_frame", "use_stamp_time", "use_stamp_lens", "use_stamp_note")


class ExportError(OysterError):
    """The export cannot be made; the message says which shot or folder."""


@dataclass(frozen=True)
class ShotExport:
    """What the export needs of one shot: its frames on the timeline, its camera and its active take."""
    name: str
    frame_start: int
    frame_end: int
    camera: bpy.types.Object
    notes: str
    take_dir: Path

    @property
    def clip(self) -> str:
        """The editorial name of the shot's take, `<shot>_<take>`."""
        return f"{sanitise_name(self.name)}_{self.take_dir.name}"


def _take_notes(take_dir: Path, fallback: str) -> str:
    """The notes a take was made from (its take.json), else the shot's current notes."""
    try:
        return str(json.loads((take_dir / TAKE_JSON).read_text())["request"]["notes"])
    except (OSError, ValueError, KeyError, TypeError):
        return fallback


def scene_shots(scene: bpy.types.Scene, selected_only: bool = False) -> list[ShotExport]:
    """The scene's Oyster shots with their active takes on the timeline, in timeline order.

    With `selected_only`, only the shots whose active take strip is selected in the sequencer.
    """
    shots = []
    for shot in scene.oyster.shots:
        strip = active_strip(scene, shot.name)
        if strip is None:
            if not selected_only:
                raise ExportError(f"shot '{shot.name}' has no take on the timeline: generate one or make one active")
            continue
        if selected_only and not strip.select:
            continue
        if shot.camera is None:
            raise ExportError(f"shot '{shot.name}' has no camera")
        take_dir = strip_folder(strip)
        shots.append(ShotExport(shot.name, shot.frame_start, shot.frame_end, shot.camera,
                                _take_notes(take_dir, shot.notes), take_dir))
    return sorted(shots, key=lambda s: s.frame_start)


def _take_status(take_dir: Path) -> str:
    try:
        return str(json.loads((take_dir / TAKE_JSON).read_text()).get("status", "unknown"))
    except (OSError, ValueError, AttributeError):
        return "unreadable"


def non_uniform_parent(camera: bpy.types.Object) -> tuple[bpy.types.Object, tuple[float, float, float]] | None:
    """The first of the camera's parents whose world scale is not the same on all three axes, with that scale.

    Under such a parent the camera's world matrix is sheared: FBX and Alembic cannot hold it, and a
    camera's view stops being a rotation. Checked at the scene's current frame.
    """
    parent = camera.parent
    while parent is not None:
        scale = tuple(parent.matrix_world.to_scale())
        if max(scale) - min(scale) > UNIFORM_SCALE * max(abs(v) for v in scale):
            return parent, scale
        parent = parent.parent
    return None


def check_export(scene: bpy.types.Scene | None, shots: list[ShotExport], out: Path) -> None:
    """ExportError for an empty sequence, overlapping shots, a shot of one frame, a missing, running or
    incomplete take, a camera under a non-uniformly scaled parent, an unwritable folder."""
    if not shots:
        raise ExportError("nothing to export: the sequence has no shots")
    ordered = sorted(shots, key=lambda s: s.frame_start)
    for before, after in zip(ordered, ordered[1:]):
        if after.frame_start <= before.frame_end:
            raise ExportError(f"shots '{before.name}' and '{after.name}' overlap (frames {after.frame_start}-"
                              f"{before.frame_end}): an edit has one shot at a time")
    for shot in shots:
        if shot.camera is None or shot.camera.type != "CAMERA":
            raise ExportError(f"shot '{shot.name}' has no camera")
        if shot.frame_end <= shot.frame_start:
            raise ExportError(f"shot '{shot.name}' is one frame long (frame {shot.frame_start}): the camera files "
                              "and the techvis travel and speed need at least two frames; lengthen the shot")
        if not (shot.take_dir / TAKE_JSON).is_file():
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir} is missing")
        status = _take_status(shot.take_dir)
        if status in RUNNING:
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir.name} is still running ({status}): "
                              "wait for it to finish, or make a finished take active")
        if status != "done":
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir.name} is not finished (status {status}): "
                              "make a finished take active")
        frames = present_frames(shot.take_dir, shot.frame_start, shot.frame_end)
        if len(frames) != shot.frame_end - shot.frame_start + 1:
            raise ExportError(f"shot '{shot.name}': take {shot.take_dir} is incomplete "
                              f"({len(frames)} of {shot.frame_end - shot.frame_start + 1} frames)")
    if scene is not None:
        with _saved(scene, "frame_current"):
            for shot in shots:
                for frame in range(shot.frame_start, shot.frame_end + 1):
                    scene.frame_set(frame)
                    found = non_uniform_parent(shot.camera)
                    if found is not None:
                        parent, scale = found
                        raise ExportError(
                            f"shot '{shot.name}': camera '{shot.camera.name}' has a parent with a non-uniform scale "
                            f"('{parent.name}', {', '.join(f'{v:g}' for v in scale)} at frame {frame}): FBX and "
                            "Alembic cannot hold the sheared camera; apply the parent's scale or make it uniform")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".oyster_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ExportError(f"cannot write to the export folder {out}: {error.strerror or error}") from error


def copy_frames(shot: ShotExport, out: Path) -> Path:
    """The take's frames as `<shot>_<take>.NNNN.png` (hard links where the disk allows, else copies).

    Takes are never rewritten in place, so a link is as safe as a copy. The folder is
    filled under a temporary name and renamed.
    """
    final, partial = out / "frames" / shot.clip, out / "frames" / f".{shot.clip}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for frame in range(shot.frame_start, shot.frame_end + 1):
        source, target = shot.take_dir / frame_file_name(frame), partial / f"{shot.clip}.{frame_file_name(frame)}"
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final


@contextmanager
def _saved(owner: Any, *keys: str) -> Iterator[None]:
    """Restore the given properties of `owner` afterwards, whatever happens in between."""
    values = {key: getattr(owner, key) for key in keys}
    try:
        yield
    finally:
        for key, value in values.items():
            setattr(owner, key, value)


@contextmanager
def _only_selected(scene: bpy.types.Scene, obj: bpy.types.Object) -> Iterator[None]:
    """`obj` alone selected and active in the view layer for an exporter; the artist's selection, active
    object and the scene's frame range and current frame are put back afterwards, whatever happens."""
    view_layer = bpy.context.view_layer if scene == bpy.context.scene else scene.view_layers[0]
    selected = [o for o in view_layer.objects if o.select_get(view_layer=view_layer)]
    active = view_layer.objects.active
    try:
        for other in selected:
            other.select_set(False, view_layer=view_layer)
        obj.select_set(True, view_layer=view_layer)
        view_layer.objects.active = obj
        yield
    finally:
        obj.select_set(False, view_layer=view_layer)
        for other in selected:
            try:
                other.select_set(True, view_layer=view_layer)
            except ReferenceError:
                pass
        view_layer.objects.active = active


def _export_to(final: Path, partial: Path, write: Callable[[Path], Any]) -> Path:
    """Run an exporter into `partial`, then rename it to `final`; nothing is left under either name on failure."""
    try:
        write(partial)
        if not partial.is_file():
            raise ExportError(f"Blender wrote no file to {partial}")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return final


def camera_paths(out: Path, shot_name: str) -> dict[str, Path]:
    """Where the shot's camera files go: track JSON, USD, FBX and Alembic under `cameras/`."""
    stem = sanitise_name(shot_name)
    return {kind: out / "cameras" / f"{stem}.{ext}" for kind, ext in
            (("track", "json"), ("usd", "usda"), ("fbx", "fbx"), ("abc", "abc"))}


def export_camera(scene: bpy.types.Scene, shot: ShotExport, out: Path) -> dict[str, Path]:
    """The shot's camera track (wire format JSON) and its animated camera alone as USD, FBX and Alembic.

    FBX: Y up, -Z forward (Maya, MotionBuilder, Unreal), centimetres (the scene's unit scale applied,
    FBX unit scale 1: no scaled transforms), every frame baked at scene time, the focal length animated.
    Alembic: Y up, 1 unit = 1 m (the scene's unit scale applied), one sample a frame (Nuke, Houdini,
    Maya). Both through Blender's own exporters with only the camera selected; the artist's selection,
    active object and frame range are put back.
    """
    paths = camera_paths(out, shot.name)
    folder = paths["track"].parent
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{paths['track'].name}.partial"
    partial.write_text(json.dumps(camera_track(scene, shot.camera, shot.frame_start, shot.frame_end), indent=1))
    os.replace(partial, paths["track"])
    unit = scene.unit_settings.scale_length or 1.0
    with _saved(scene, "frame_start", "frame_end", "frame_current"), _only_selected(scene, shot.camera):
        scene.frame_start, scene.frame_end = shot.frame_start, shot.frame_end
        _export_to(paths["usd"], folder / f".{paths['usd'].stem}.partial.usda", lambda p: bpy.ops.wm.usd_export(
            filepath=str(p), selected_objects_only=True, export_animation=True, export_materials=False))
        _export_to(paths["fbx"], folder / f".{paths['fbx'].stem}.partial.fbx", lambda p: bpy.ops.export_scene.fbx(
            filepath=str(p), use_selection=True, object_types={"CAMERA"}, axis_forward="-Z", axis_up="Y",
            apply_unit_scale=True, apply_scale_options="FBX_SCALE_NONE", global_scale=1.0, bake_anim=True,
            bake_anim_use_all_bones=False, bake_anim_use_nla_strips=False, bake_anim_use_all_actions=False,
            bake_anim_force_startend_keying=True, bake_anim_step=1.0, bake_anim_simplify_factor=0.0,
            add_leaf_bones=False, use_custom_props=False))
        _export_to(paths["abc"], folder / f".{paths['abc'].stem}.partial.abc", lambda p: bpy.ops.wm.alembic_export(
            filepath=str(p), start=shot.frame_start, end=shot.frame_end, selected=True, flatten=False,
            export_hair=False, export_particles=False, export_custom_properties=False, global_scale=unit,
            as_background_job=False, init_scene_frame_range=False))
    return paths


@dataclass(frozen=True)
class Chunk:
    """Frames rendered in one call with one stamp: a piece of a shot, or of a gap between shots."""
    frame_start: int
    frame_end: int
    shot: ShotExport | None


def stamp_chunks(scene: bpy.types.Scene, shots: list[ShotExport]) -> list[Chunk]:
    """The edit's frames (first shot's start to last shot's end) in chunks of one shot and one lens.

    The stamp shows one lens per render, so an animated zoom splits a chunk wherever the lens changes.
    """
    ordered = sorted(shots, key=lambda s: s.frame_start)
    chunks: list[Chunk] = []
    frame = ordered[0].frame_start
    with _saved(scene, "frame_current"):
        for shot in ordered:
            if frame < shot.frame_start:
                chunks += [Chunk(f, min(f + CHUNK_FRAMES - 1, shot.frame_start - 1), None)
                           for f in range(frame, shot.frame_start, CHUNK_FRAMES)]
            start, lens = shot.frame_start, None
            for f in range(shot.frame_start, shot.frame_end + 2):
                if f <= shot.frame_end:
                    scene.frame_set(f)
                    now = round(shot.camera.data.lens, 2)
                if f > shot.frame_end or (lens is not None and now != lens) or f - start == CHUNK_FRAMES:
                    chunks.append(Chunk(start, f - 1, shot))
                    start = f
                lens = now
            frame = shot.frame_end + 1
    return chunks


def stamp_note(shot: ShotExport, mattebox: str = "") -> str:
    """The burn-in's note: shot and take, the frame's mattebox figures (focal length, height, tilt), then the
    notes the take was made from, on one line (the figures before the notes, so long notes never hide them)."""
    notes = " ".join(shot.notes.split())
    figures = f" | {mattebox} |" if mattebox else ""
    return f"{shot.name} {shot.take_dir.name}{figures}  {notes}"[:NOTE_CHARS]


def _stamp_font_size(height: int) -> int:
    """Blender draws the stamp in pixels; scale it with the frame so it reads alike at any size."""
    return max(8, round(height / 30))


def render_stamped(scene: bpy.types.Scene, chunk: Chunk, folder: Path, mattebox: dict[int, str] | None = None) -> None:
    """Render the sequencer over a chunk into `folder/NNNN.png` with the burn-ins of its shot.

    `mattebox` maps scene frames to their mattebox figures (techvis.mattebox_text); with it the chunk is
    rendered a frame at a time, since the stamp's note holds one text per render.
    """
    render = scene.render
    stamp_keys = [p.identifier for p in render.bl_rna.properties if p.identifier.startswith("use_stamp")]
    folder.mkdir(parents=True, exist_ok=True)
    with _saved(scene, "frame_start", "frame_end", "frame_current", "camera"), \
            _saved(render, "filepath", "use_sequencer", "use_file_extension", "stamp_note_text", "stamp_font_size",
                   *stamp_keys), \
            _saved(render.image_settings, "file_format", "color_mode", "color_depth"), \
            _saved(scene.view_settings, "view_transform", "look", "exposure", "gamma"):
        scene.frame_start, scene.frame_end = chunk.frame_start, chunk.frame_end
        if chunk.shot is not None:
            scene.camera = chunk.shot.camera  # the stamp's camera and lens
        scene.frame_set(chunk.frame_start)
        for key in stamp_keys:
            setattr(render, key, key in ("use_stamp", "use_stamp_labels", *STAMP_FIELDS))
        render.use_stamp_lens = chunk.shot is not None
        render.stamp_note_text = "" if chunk.shot is None else stamp_note(chunk.shot)
        render.stamp_font_size = _stamp_font_size(round(render.resolution_y * render.resolution_percentage / 100))
        render.use_sequencer, render.use_file_extension = True, True
        render.image_settings.file_format = "PNG"
        render.image_settings.color_mode, render.image_settings.color_depth = "RGB", "8"
        # the takes are display-ready sRGB frames: pass them through untouched
        scene.view_settings.view_transform, scene.view_settings.look = "Standard", "None"
        scene.view_settings.exposure, scene.view_settings.gamma = 0.0, 1.0
        render.filepath = str(folder) + os.sep + "####"
        if chunk.shot is None or not mattebox:
            bpy.ops.render.render(animation=True, scene=scene.name)
            return
        for frame in range(chunk.frame_start, chunk.frame_end + 1):
            scene.frame_start = scene.frame_end = frame
            render.stamp_note_text = stamp_note(chunk.shot, mattebox.get(frame, ""))
            bpy.ops.render.render(animation=True, scene=scene.name)


def encode_mp4(scene: bpy.types.Scene, folder: Path, frame_start: int, frame_end: int, out: Path) -> Path:
    """Encode the stamped frames as H.264 `out/previs.mp4` through a temporary scene's sequencer."""
    final, partial = out / MP4, out / f".{MP4}.partial.mp4"
    encoder = bpy.data.scenes.new(".oyster_encode")
    try:
        render = encoder.render
        render.resolution_x = round(scene.render.resolution_x * scene.render.resolution_percentage / 100)
        render.resolution_y = round(scene.render.resolution_y * scene.render.resolution_percentage / 100)
        render.resolution_percentage = 100
        render.fps, render.fps_base = scene.render.fps, scene.render.fps_base
        encoder.view_settings.view_transform = "Standard"
        strip = encoder.sequence_editor_create().strips.new_image(
            name="previs", filepath=str(folder / frame_file_name(frame_start)), channel=1, frame_start=1)
        for frame in range(frame_start + 1, frame_end + 1):
            strip.elements.append(frame_file_name(frame))
        encoder.frame_start, encoder.frame_end = 1, frame_end - frame_start + 1
        render.use_sequencer, render.use_stamp = True, False
        render.image_settings.file_format = "FFMPEG"
        render.ffmpeg.format, render.ffmpeg.codec = "MPEG4", "H264"
        render.ffmpeg.constant_rate_factor = "HIGH"
        render.filepath = str(partial)
        bpy.ops.render.render(animation=True, scene=encoder.name)
        if not partial.is_file():
            raise ExportError(f"Blender wrote no movie to {partial}")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
        bpy.data.scenes.remove(encoder)
    return final


def edit_description(scene: bpy.types.Scene, shots: list[ShotExport], out: Path) -> dict[str, Any]:
    """edit.json: the shots in order, each pointing at its exported frames (docs/timeline_export.md)."""
    return {"name": "previs", "fps": scene.render.fps / scene.render.fps_base, "shots": [
        {"name": s.name, "take": s.take_dir.name, "frames": str((out / "frames" / s.clip).resolve()),
         "name_prefix": f"{s.clip}.", "frame_start": s.frame_start, "frame_end": s.frame_end, "notes": s.notes,
         "camera": {"name": s.camera.name, "lens_mm": s.camera.data.lens,
                    **{kind: path.relative_to(out).as_posix() for kind, path in camera_paths(out, s.name).items()},
                    "techvis": f"techvis/{sanitise_name(s.name)}.json"}}
        for s in sorted(shots, key=lambda s: s.frame_start)]}


def write_edit(scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str,
               runtime_root: Path | None = None) -> tuple[Path, Path]:
    """edit.json, then the .otio, .edl and .aaf that the runtime writes from it with opentimelineio.

    `runtime_root` is the folder that holds `model_runtime` (the repository) when the
    runtime's Python does not have it installed.
    """
    edit_path, partial = out / EDIT_JSON, out / f".{EDIT_JSON}.partial"
    partial.write_text(json.dumps(edit_description(scene, shots, out), indent=1))
    os.replace(partial, edit_path)
    env = dict(os.environ)
    if runtime_root is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(runtime_root), env.get("PYTHONPATH")) if p)
    command = [runtime_python, "-m", "model_runtime", "editorial", "--edit", str(edit_path), "--out", str(out)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=runtime_root,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ExportError(f"cannot run the runtime's Python {runtime_python!r} for the OTIO/EDL/AAF: {error}") \
            from None
    if result.returncode != 0:
        raise ExportError(f"the runtime could not write the OTIO/EDL/AAF: {(result.stdout + result.stderr).strip()}")
    return out / "previs.otio", out / "previs.edl", out / "previs.aaf"


def export_techvis(scene: bpy.types.Scene, shot: ShotExport, out: Path) -> dict[str, Any]:
    """The shot's techvis figures as `techvis/<shot>.csv` and `.json`; returns the figures and the paths."""
    figures = techvis.shot_figures(scene, shot.camera, shot.frame_start, shot.frame_end)
    csv_path, json_path = techvis.write_figures(figures, out / "techvis", sanitise_name(shot.name))
    return {"shot": shot.name, "figures": figures, "csv": csv_path, "json": json_path}


def _thumbnail(source: Path, target: Path, width: int = THUMB_WIDTH) -> Path:
    """A PNG of `source` scaled to `width` (Blender's image scaling), written whole."""
    image = bpy.data.images.load(str(source), check_existing=False)
    try:
        w, h = image.size
        if w > width:
            image.scale(width, max(1, round(h * width / w)))
        partial = target.with_name(f".{target.stem}.partial.png")
        image.filepath_raw, image.file_format = str(partial), "PNG"
        image.save()
        os.replace(partial, target)
    finally:
        bpy.data.images.remove(image)
    return target


def _strip_frames(shot: ShotExport, count: int = THUMBS_PER_SHOT) -> list[int]:
    length = shot.frame_end - shot.frame_start + 1
    if length <= count:
        return list(range(shot.frame_start, shot.frame_end + 1))
    return sorted({shot.frame_start + round(i * (length - 1) / (count - 1)) for i in range(count)})


def _take_record(take_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((take_dir / TAKE_JSON).read_text())
    except (OSError, ValueError):
        return {}


def _rel(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def write_review(shots: list[ShotExport], out: Path, written: dict[str, Any], fps: float) -> Path:
    """`review.html` and its thumbnails (`review/`), from the files the export wrote (review_page.py)."""
    thumbs_dir = out / "review"
    thumbs_dir.mkdir(parents=True, exist_ok=True)
    figures = {entry["shot"]: entry for entry in written.get("techvis", [])}
    review_shots = []
    for shot in shots:
        stem = sanitise_name(shot.name)
        frames_dir = out / "frames" / shot.clip
        strip = []
        for frame in _strip_frames(shot):
            thumb = _thumbnail(frames_dir / f"{shot.clip}.{frame_file_name(frame)}",
                               thumbs_dir / f"{shot.clip}.{frame_file_name(frame)}")
            strip.append({"frame": frame, "src": _rel(thumb, out)})
        takes = []
        for info in list_takes(shot.take_dir.parent):
            thumb = None
            if info.first_frame is not None:
                thumb = _rel(_thumbnail(info.first_frame, thumbs_dir / f"{stem}_{info.name}.first.png", 96), out)
            takes.append({"name": info.name, "status": info.status, "seed": info.seed, "model": info.model,
                          "notes": info.notes, "thumb": thumb})
        active = next((t for t in takes if t["name"] == shot.take_dir.name), None)
        if active is None:  # a take outside its shot's folder (a script's): shown alone
            record = _take_record(shot.take_dir)
            active = {"name": shot.take_dir.name, "status": record.get("status", "unknown"),
                      "seed": record.get("seed", ""), "model": record.get("model", ""), "notes": shot.notes,
                      "thumb": strip[0]["src"] if strip else None}
        request = _take_record(shot.take_dir).get("request", {})
        events = [{"frame": int(e["frame"]), "notes": str(e["notes"])} for e in request.get("notes_events", [])
                  if isinstance(e, dict) and "frame" in e and "notes" in e]
        paths = camera_paths(out, shot.name)
        files = [("frames", _rel(frames_dir, out) + "/"), ("camera JSON", _rel(paths["track"], out)),
                 ("USD", _rel(paths["usd"], out)), ("FBX", _rel(paths["fbx"], out)),
                 ("Alembic", _rel(paths["abc"], out)),
                 ("techvis CSV", f"techvis/{stem}.csv"), ("techvis JSON", f"techvis/{stem}.json")]
        review_shots.append({
            "id": stem, "name": shot.name, "frame_start": shot.frame_start, "frame_end": shot.frame_end,
            "camera": shot.camera.name, "notes": shot.notes, "notes_events": sorted(events, key=lambda e: e["frame"]),
            "thumbs": strip, "active_take": active, "other_takes": [t for t in takes if t is not active],
            "techvis": figures[shot.name]["figures"]["summary"] if shot.name in figures else {}, "files": files})
    review = {"title": f"Previs review: {', '.join(s.name for s in shots)}", "mp4": MP4, "fps": fps,
              "first_frame": shots[0].frame_start, "shots": review_shots,
              "files": [("previs.mp4", MP4), ("OTIO", "previs.otio"), ("EDL", "previs.edl"), ("AAF", "previs.aaf"),
                        ("edit.json", EDIT_JSON)]}
    final, partial = out / REVIEW, out / f".{REVIEW}.partial"
    try:
        partial.write_text(review_page.review_html(review), encoding="utf-8")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return final


class ExportJob:
    """The export as small steps, so an operator can show progress and cancel between them.

    Every step writes whole files (temporary name, then rename): stopping between
    steps leaves only finished files; `abort` removes the stamped intermediate frames.
    """

    def __init__(self, scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str,
                 runtime_root: Path | None = None):
        self.scene, self.out = scene, Path(out)
        self.shots = sorted(shots, key=lambda s: s.frame_start)
        check_export(scene, self.shots, self.out)
        self.written: dict[str, Any] = {"frames": [], "cameras": [], "techvis": []}
        self.mattebox: dict[int, str] = {}  # scene frame -> the burn-in's figures, filled by the techvis steps
        stamped = self.out / STAMPED
        steps: list[tuple[str, Callable[[], None]]] = []
        for s in self.shots:
            steps.append((f"frames of {s.name}", lambda s=s: self.written["frames"].append(copy_frames(s, self.out))))
            steps.append((f"camera of {s.name}",
                          lambda s=s: self.written["cameras"].append(export_camera(scene, s, self.out))))
            steps.append((f"techvis of {s.name}", lambda s=s: self._techvis(s)))
        steps.append(("OTIO, EDL and AAF", lambda: self.written.update(
            zip(("otio", "edl", "aaf"), write_edit(scene, self.shots, self.out, runtime_python, runtime_root)))))
        for chunk in stamp_chunks(scene, self.shots):
            label = chunk.shot.name if chunk.shot else "gap"
            steps.append((f"burn-ins {label} {chunk.frame_start}-{chunk.frame_end}",
                          lambda c=chunk: render_stamped(scene, c, stamped, self.mattebox)))
        first, last = self.shots[0].frame_start, self.shots[-1].frame_end
        steps.append(("H.264", lambda: self.written.__setitem__("mp4", encode_mp4(scene, stamped, first, last,
                                                                                   self.out))))
        fps = scene.render.fps / scene.render.fps_base
        steps.append(("review page", lambda: self.written.__setitem__(
            "review", write_review(self.shots, self.out, self.written, fps))))
        steps.append(("clean up", self.abort))
        self._steps = steps
        self.done_steps = 0

    def _techvis(self, shot: ShotExport) -> None:
        entry = export_techvis(self.scene, shot, self.out)
        self.written["techvis"].append(entry)
        self.mattebox.update({row["frame"]: techvis.mattebox_text(row) for row in entry["figures"]["frames"]})

    @property
    def finished(self) -> bool:
        return self.done_steps == len(self._steps)

    @property
    def progress(self) -> float:
        return self.done_steps / len(self._steps)

    @property
    def label(self) -> str:
        """What the next step makes, for the progress bar."""
        return "done" if self.finished else self._steps[self.done_steps][0]

    def step(self) -> None:
        """Run the next step; ExportError (or OSError from the disk) stops the export there."""
        self._steps[self.done_steps][1]()
        self.done_steps += 1

    def abort(self) -> None:
        """Remove what only a finished export would have used (the stamped frames)."""
        shutil.rmtree(self.out / STAMPED, ignore_errors=True)


def export_previs(scene: bpy.types.Scene, shots: list[ShotExport], out: Path, runtime_python: str,
                  runtime_root: Path | None = None) -> dict[str, Any]:
    """The whole export at once; returns the paths written, by kind (mp4, otio, edl, aaf, frames, cameras,
    techvis, review)."""
    job = ExportJob(scene, shots, out, runtime_python, runtime_root)
    try:
        while not job.finished:
            job.step()
    finally:
        job.abort()
    return job.written


# ---------------------------------------------------------------- operator and panel


@dataclass
class ExportProgress:
    """The running export as the panel shows it (one at a time)."""
    job: ExportJob | None = None
    message: str = ""


PROGRESS = ExportProgress()


def runtime_command(python: str) -> tuple[str, Path | None]:
    """The runtime's Python and the repository it runs from (`<repo>/.venv/bin/python`), if it is one."""
    if not python:
        raise ExportError("set the runtime's Python in Oyster's preferences: it writes the OTIO, EDL and AAF")
    return python, runtime_root(python)


class OYSTER_OT_export_previs(bpy.types.Operator):
    """Export the previs: mp4 with burn-ins, frames, OTIO, EDL, AAF, cameras, techvis and a review page"""

    bl_idname = "oyster.export_previs"
    bl_label = "Export Previs"

    directory: StringProperty(name="Export Folder", subtype="DIR_PATH",
                              description="Folder that receives previs.mp4, the frames, OTIO, EDL, AAF, cameras, "
                                          "techvis and review.html")
    selected_only: BoolProperty(name="Selected Shots Only", default=False,
                                description="Only the shots whose active take strip is selected in the sequencer")
    runtime_python: StringProperty(name="Runtime Python", options={"HIDDEN", "SKIP_SAVE"},
                                   description="For scripts: the runtime's Python instead of the preferences' one")

    _timer: bpy.types.Timer | None = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = no_data(context) or (None if len(context.scene.oyster.shots) else
                                      "add a shot and generate a take first")
        return allow(cls, reason or ("an export is running" if PROGRESS.job is not None else None))

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self.directory:
            self.report({"ERROR"}, "choose an export folder")
            return {"CANCELLED"}
        python, root = runtime_command(self.runtime_python or runtime_settings(context).python)
        job = ExportJob(context.scene, scene_shots(context.scene, self.selected_only),
                        Path(bpy.path.abspath(self.directory)), python, root)
        PROGRESS.job, PROGRESS.message = job, ""
        if bpy.app.background or context.window is None:  # no event loop to wait in: run to the end
            while not job.finished:
                if not self._step(context):
                    return {"CANCELLED"}
            return self._finish(context)
        self._timer = context.window_manager.event_timer_add(0.01, window=context.window)
        context.window_manager.modal_handler_add(self)
        context.window_manager.progress_begin(0, 1)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type == "ESC":
            PROGRESS.job.abort()
            PROGRESS.message = "export cancelled: the files written so far are complete"
            self.report({"WARNING"}, PROGRESS.message)
            return self._end(context, {"CANCELLED"})
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not self._step(context):
            return self._end(context, {"CANCELLED"})
        context.window_manager.progress_update(PROGRESS.job.progress)
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        return self._finish(context) if PROGRESS.job.finished else {"RUNNING_MODAL"}

    def _step(self, context: bpy.types.Context) -> bool:
        job = PROGRESS.job
        try:
            job.step()
        except (OysterError, OSError, RuntimeError) as error:  # RuntimeError: a Blender operator refused
            job.abort()
            PROGRESS.message = f"export failed at {job.label}: {error}"
            self.report({"ERROR"}, PROGRESS.message)
            if self._timer is None:  # not modal: nothing else will end the job
                PROGRESS.job = None
            return False
        return True

    def _finish(self, context: bpy.types.Context) -> set[str]:
        PROGRESS.message = f"exported to {PROGRESS.job.out}"
        self.report({"INFO"}, PROGRESS.message)
        return self._end(context, {"FINISHED"})

    def _end(self, context: bpy.types.Context, result: set[str]) -> set[str]:
        PROGRESS.job = None
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            context.window_manager.progress_end()
            self._timer = None
        return result


class OYSTER_PT_export(SubPanel, bpy.types.Panel):
    """Previs export to editorial"""

    bl_label = "Export"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        job = PROGRESS.job
        if job is not None:
            layout.progress(factor=job.progress, type="BAR", text=f"{job.label} (Esc cancels)")
            return
        row = layout.row(align=True)
        row.operator("oyster.export_previs", icon="RENDER_ANIMATION").selected_only = False
        row.operator("oyster.export_previs", text="Selected", icon="RESTRICT_SELECT_OFF").selected_only = True
        if PROGRESS.message:
            layout.label(text=PROGRESS.message, icon="INFO")


classes = (OYSTER_OT_export_previs, OYSTER_PT_export)


register, _unregister_classes = bpy.utils.register_classes_factory(classes)


def unregister() -> None:
    _unregister_classes()
    PROGRESS.job, PROGRESS.message = None, ""
