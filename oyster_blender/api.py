"""Plain-function API for shots, so pipeline scripts need no operators.

    from oyster_blender import api
    shot = api.add_shot(scene, "sh010", camera=cam, frame_start=1, frame_end=48, notes="neon alley, rain")
    request = api.shot_request(scene, shot, api.output_root(bpy.data.filepath, ""))

Every function validates before it changes anything and raises CameraError,
ShotError or OutputError (all OysterError) with a message fit for the panel.
Shots are `Scene.oyster.shots` items; functions take the item or its name.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import bpy

from . import first_frame
from . import shots as rules
from .camera import camera_track, check_camera, check_range, render_size
from .core.errors import CameraError, OutputError, OysterError, ShotError
from .first_frame import FirstFrame
from .core.naming import inside, sanitise_name
from .properties import OYSTER_PG_scene, OYSTER_PG_shot
from .shots import MarkerShot, ShotSettings

ShotRef = OYSTER_PG_shot | str
_UNSET: Any = object()  # "not given" in edit_shot, where camera=None means "no camera"


# ---------------------------------------------------------------- reading


def scene_data(scene: bpy.types.Scene) -> OYSTER_PG_scene:
    """`scene.oyster`; ShotError when the extension is not registered in this Blender."""
    data = getattr(scene, "oyster", None)
    if data is None:
        raise ShotError("Oyster is not enabled: enable the extension (or call oyster_blender.register())")
    return data


def find_shot(scene: bpy.types.Scene, shot: ShotRef) -> OYSTER_PG_shot:
    """The shot item for a name (or the item itself); ShotError if the scene has no such shot."""
    if not isinstance(shot, str):
        return shot
    for item in scene_data(scene).shots:
        if item.name == shot:
            return item
    raise ShotError(f"the scene has no shot named '{shot}'")


def active_shot(scene: bpy.types.Scene) -> OYSTER_PG_shot | None:
    data = scene_data(scene)
    return data.shots[data.active_shot_index] if 0 <= data.active_shot_index < len(data.shots) else None


def timeline_range(scene: bpy.types.Scene) -> tuple[int, int]:
    """The range the timeline plays: the preview range when it is on, else the scene range."""
    if scene.use_preview_range:
        return scene.frame_preview_start, scene.frame_preview_end
    return scene.frame_start, scene.frame_end


def _other_names(scene: bpy.types.Scene, shot: OYSTER_PG_shot | None) -> list[str]:
    return [item.name for item in scene_data(scene).shots if shot is None or item.as_pointer() != shot.as_pointer()]


def _check_name(scene: bpy.types.Scene, name: str, shot: OYSTER_PG_shot | None) -> None:
    rules.check_name(name)
    others = _other_names(scene, shot)
    if name in others:
        raise ShotError(f"a shot named '{name}' exists already")
    clash = rules.folder_clash(name, others)
    if clash is not None:
        raise ShotError(f"'{name}' would share the folder '{sanitise_name(name)}' with shot '{clash}': "
                        "rename one of them")


def _check_camera_ref(camera: bpy.types.Object | None, remembered: str = "") -> bpy.types.Object:
    if camera is None and remembered:
        raise CameraError(f"the shot's camera '{remembered}' was deleted: pick another camera")
    return check_camera(camera)


def check_shot(scene: bpy.types.Scene, shot: ShotRef) -> None:
    """CameraError or ShotError for the first thing that stops the shot from being generated."""
    shot = find_shot(scene, shot)
    _check_camera_ref(shot.camera, shot.camera_name)
    check_range(scene, shot.frame_start, shot.frame_end)
    rules.check_settings(ShotSettings(shot.name, shot.notes, shot.seed, shot.resolution_x, shot.resolution_y,
                                      shot.fps))
    rules.check_notes_events(notes_events(shot), shot.frame_start, shot.frame_end)
    _check_name(scene, shot.name, shot)


def shot_problem(scene: bpy.types.Scene, shot: ShotRef) -> str | None:
    """What the panel shows under a shot: the message of `check_shot`, or None when it can be generated."""
    try:
        check_shot(scene, shot)
    except OysterError as error:
        return str(error)
    return None


# ---------------------------------------------------------------- changing


def add_shot(scene: bpy.types.Scene, name: str | None = None, camera: bpy.types.Object | None = _UNSET,
             frame_start: int | None = None, frame_end: int | None = None, notes: str = "", seed: int = 0,
             resolution: tuple[int, int] | None = None, fps: float | None = None,
             model: str | None = None) -> OYSTER_PG_shot:
    """A new shot, made active; defaults: the scene camera, the timeline range, the scene's output size and fps,
    the bundled model (`model=""`: whatever the runtime's default is).

    Nothing is added when any value is refused.
    """
    data = scene_data(scene)
    camera = scene.camera if camera is _UNSET else camera
    start, end = timeline_range(scene)
    start = start if frame_start is None else frame_start
    end = end if frame_end is None else frame_end
    width, height = resolution if resolution is not None else render_size(scene)
    fps = scene.render.fps / scene.render.fps_base if fps is None else fps
    name = rules.default_name(_other_names(scene, None)) if name is None else name

    check_camera(camera)
    check_range(scene, start, end)
    rules.check_settings(ShotSettings(name, notes, seed, width, height, fps))
    _check_name(scene, name, None)

    shot = data.shots.add()
    shot.name, shot.camera, shot.frame_start, shot.frame_end = name, camera, start, end
    shot.camera_name = camera.name  # the update callback does this in the UI; scripts set it here
    shot.notes, shot.seed, shot.resolution_x, shot.resolution_y, shot.fps = notes, seed, width, height, fps
    if model is not None:
        shot.model = model
    data.active_shot_index = len(data.shots) - 1
    return shot


def edit_shot(scene: bpy.types.Scene, shot: ShotRef, *, name: str = _UNSET, camera: bpy.types.Object | None = _UNSET,
              frame_start: int = _UNSET, frame_end: int = _UNSET, notes: str = _UNSET, seed: int = _UNSET,
              resolution: tuple[int, int] = _UNSET, fps: float = _UNSET, model: str = _UNSET) -> OYSTER_PG_shot:
    """Change the given fields of a shot; all are checked together first, so a refusal changes nothing."""
    shot = find_shot(scene, shot)
    new_name = shot.name if name is _UNSET else name
    new_camera = shot.camera if camera is _UNSET else camera
    start = shot.frame_start if frame_start is _UNSET else frame_start
    end = shot.frame_end if frame_end is _UNSET else frame_end
    new_notes = shot.notes if notes is _UNSET else notes
    new_seed = shot.seed if seed is _UNSET else seed
    width, height = (shot.resolution_x, shot.resolution_y) if resolution is _UNSET else resolution
    new_fps = shot.fps if fps is _UNSET else fps

    if camera is _UNSET:
        _check_camera_ref(new_camera, shot.camera_name)
    else:
        check_camera(new_camera)
    check_range(scene, start, end)
    rules.check_settings(ShotSettings(new_name, new_notes, new_seed, width, height, new_fps))
    _check_name(scene, new_name, shot)

    shot.name, shot.camera, shot.frame_start, shot.frame_end = new_name, new_camera, start, end
    shot.camera_name = new_camera.name
    shot.notes, shot.seed, shot.resolution_x, shot.resolution_y, shot.fps = new_notes, new_seed, width, height, new_fps
    if model is not _UNSET:
        shot.model = model
    return shot


def remove_shot(scene: bpy.types.Scene, shot: ShotRef) -> None:
    """Remove a shot from the scene (its takes on disk stay where they are)."""
    data = scene_data(scene)
    shot = find_shot(scene, shot)
    index = next(i for i, item in enumerate(data.shots) if item.as_pointer() == shot.as_pointer())
    data.shots.remove(index)
    data.active_shot_index = min(data.active_shot_index, len(data.shots) - 1)


# ---------------------------------------------------------------- notes events


NOTES_MARKER_PREFIX = "notes:"


def notes_events(shot: OYSTER_PG_shot) -> list[tuple[int, str]]:
    """The shot's notes events as (frame, notes), by frame."""
    return sorted((event.frame, event.notes) for event in shot.notes_events)


def notes_at(shot: OYSTER_PG_shot, frame: int) -> str:
    """The notes in force at scene `frame`: the last event's at or before it, else the shot's."""
    in_force = [notes for at, notes in notes_events(shot) if at <= frame]
    return in_force[-1] if in_force else shot.notes


def _set_notes_events(shot: OYSTER_PG_shot, events: list[tuple[int, str]]) -> None:
    shot.notes_events.clear()
    for frame, notes in sorted(events):
        item = shot.notes_events.add()
        item.frame, item.notes = frame, notes


def add_notes_event(scene: bpy.types.Scene, shot: ShotRef, frame: int, notes: str) -> None:
    """Key `notes` at scene `frame` of the shot (the list stays in frame order); ShotError when refused."""
    shot = find_shot(scene, shot)
    events = notes_events(shot) + [(frame, notes)]
    rules.check_notes_events(events, shot.frame_start, shot.frame_end)
    _set_notes_events(shot, events)
    shot.active_notes_event_index = sorted(events).index((frame, notes))


def remove_notes_event(scene: bpy.types.Scene, shot: ShotRef, frame: int) -> None:
    shot = find_shot(scene, shot)
    index = next((i for i, event in enumerate(shot.notes_events) if event.frame == frame), None)
    if index is None:
        raise ShotError(f"shot '{shot.name}' has no notes event at frame {frame}")
    shot.notes_events.remove(index)
    shot.active_notes_event_index = min(shot.active_notes_event_index, len(shot.notes_events) - 1)


def notes_events_from_markers(scene: bpy.types.Scene, shot: ShotRef, prefix: str = NOTES_MARKER_PREFIX) -> int:
    """Key the shot's notes events from timeline markers named `<prefix><notes>` within its frames (an
    event on a marker's frame is replaced); returns how many markers were read. All checked first."""
    shot = find_shot(scene, shot)
    found = rules.marker_notes([(m.name, m.frame) for m in scene.timeline_markers], prefix,
                               shot.frame_start, shot.frame_end)
    if not found:
        raise ShotError(f"no timeline marker within frames {shot.frame_start}-{shot.frame_end} is named "
                        f"'{prefix} <notes>'")
    marked = {frame for frame, _ in found}
    events = [event for event in notes_events(shot) if event[0] not in marked] + found
    rules.check_notes_events(events, shot.frame_start, shot.frame_end)
    _set_notes_events(shot, events)
    return len(found)


# ---------------------------------------------------------------- markers


def marker_shots(scene: bpy.types.Scene) -> list[MarkerShot]:
    """The cuts of the scene's timeline markers bound to cameras (Blender's own camera switching)."""
    markers = [(m.name, m.frame, m.camera.name) for m in scene.timeline_markers if m.camera is not None]
    return rules.marker_shots(markers, scene.frame_start, scene.frame_end)


def add_marker_shots(scene: bpy.types.Scene) -> list[OYSTER_PG_shot]:
    """Shots for the camera-bound markers: a shot of the marker's name is updated (its notes and seed
    kept), a missing one added. All markers are checked before any shot changes."""
    cuts = marker_shots(scene)
    if not cuts:
        raise ShotError("no timeline marker is bound to a camera (Marker > Bind Camera to Markers)")
    existing = {item.name for item in scene_data(scene).shots}
    for cut in cuts:
        check_camera(bpy.data.objects.get(cut.camera))
        if cut.name not in existing:
            _check_name(scene, cut.name, None)
    result = []
    for cut in cuts:
        camera = bpy.data.objects[cut.camera]
        if cut.name in existing:
            result.append(edit_shot(scene, cut.name, camera=camera, frame_start=cut.frame_start,
                                    frame_end=cut.frame_end))
        else:
            result.append(add_shot(scene, cut.name, camera, cut.frame_start, cut.frame_end))
    return result


# ---------------------------------------------------------------- output


def output_root(blend_path: str, output_folder: str) -> Path:
    """Where takes go: the preferences' folder (`//` relative to the .blend), else the .blend's folder."""
    blend_dir = Path(blend_path).resolve().parent if blend_path else None
    if output_folder.startswith("//"):
        if blend_dir is None:
            raise OutputError(f"the output folder {output_folder!r} is relative to the .blend file: save it first")
        return (blend_dir / output_folder[2:]).resolve()
    if output_folder:
        path = Path(output_folder).expanduser()
        if not path.is_absolute():
            raise OutputError(f"the output folder {output_folder!r} must be absolute or start with // "
                              "(relative to the .blend file)")
        return path.resolve()
    if blend_dir is None:
        raise OutputError("save the .blend file or set an output folder in Oyster's preferences")
    return blend_dir


def shot_folder(root: Path, shot_name: str) -> Path:
    """`<root>/oyster/<sanitised shot name>`, checked to lie inside `root`."""
    folder = root / "oyster" / sanitise_name(shot_name)
    if not inside(root, folder):
        raise OutputError(f"shot '{shot_name}' would write outside the output folder {root}")
    return folder


def shot_track(scene: bpy.types.Scene, shot: ShotRef) -> dict[str, Any]:
    """The shot's camera track in the wire format, at the shot's resolution and fps."""
    shot = find_shot(scene, shot)
    check_shot(scene, shot)
    return camera_track(scene, shot.camera, shot.frame_start, shot.frame_end,
                        size=(shot.resolution_x, shot.resolution_y), fps=shot.fps)


def shot_request(scene: bpy.types.Scene, shot: ShotRef, root: Path | None = None,
                 first: FirstFrame | None = None) -> dict[str, Any]:
    """The runtime's shot request (docs/runtime_api.md): name, notes and notes events, seed, camera track,
    model, output folder, whether to keep the model's states, and the first frame when one was rendered
    (`render_first_frame`)."""
    shot = find_shot(scene, shot)
    request = {"shot": shot.name, "notes": shot.notes, "seed": shot.seed, "track": shot_track(scene, shot)}
    if shot.model:
        request["model"] = shot.model
    if len(shot.notes_events):
        request["notes_events"] = [{"frame": frame, "notes": notes} for frame, notes in notes_events(shot)]
    if shot.keep_states:
        request["save_states"] = True
    if first is not None:
        request["first_frame"] = first.request()
    if root is not None:
        request["output"] = str(root)
    return request


def render_first_frame(scene: bpy.types.Scene, shot: ShotRef, root: Path) -> FirstFrame:
    """The shot's first frame from the blockout (Workbench RGB and depth) in a scratch folder of its shot
    folder; delete `.folder` once the runtime has answered (it copies the files into the take)."""
    return first_frame.render_first_frame(*_first_view(scene, shot, root))


def blockout_first_frame(scene: bpy.types.Scene, shot: ShotRef, root: Path) -> FirstFrame | None:
    """The shot's first frame from the blockout when any of the scene is in its camera's view there, else
    None (`first_frame.blockout_first_frame`)."""
    return first_frame.blockout_first_frame(*_first_view(scene, shot, root))


def _first_view(scene: bpy.types.Scene, shot: ShotRef, root: Path) -> tuple:
    """(scene, camera, frame, size, shot folder) of a checked shot's first frame."""
    shot = find_shot(scene, shot)
    check_shot(scene, shot)
    return scene, shot.camera, shot.frame_start, (shot.resolution_x, shot.resolution_y), shot_folder(root, shot.name)


def write_camera_track(scene: bpy.types.Scene, shot: ShotRef, root: Path) -> Path:
    """Write `<root>/oyster/<shot>/camera_track.json` (for layout and pipelines); returns its path.

    Written to a temporary name and renamed, so a reader never sees half a file.
    """
    shot = find_shot(scene, shot)
    track = shot_track(scene, shot)
    folder = shot_folder(root, shot.name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "camera_track.json"
        partial = folder / "camera_track.json.partial"
        partial.write_text(json.dumps(track, indent=1))
        os.replace(partial, target)
    except OSError as error:
        raise OutputError(f"cannot write the camera track into {folder}: {error.strerror or error}") from None
    return target


BLOCKOUT_FOLDER = ".blockout"  # in the shot's folder: copies of the .blend for the runtime, deleted once answered
PAINTERS = ("oyster-painter",)  # models that paint the blockout's passes (the runtime renders them)


def paints_blockout(shot: ShotRef, scene: bpy.types.Scene) -> bool:
    """Whether the shot's model (empty: the runtime's default, the painter) paints every frame's passes."""
    model = find_shot(scene, shot).model
    return not model or model.startswith(PAINTERS)


def blockout_copy(scene: bpy.types.Scene, shot: ShotRef, root: Path) -> tuple[dict[str, str], Path]:
    """Save a copy of the open file (unsaved changes included) for the runtime to render the shot's passes
    from, so Blender's UI never waits for them: the request's `blockout` and the scratch folder to delete
    once the runtime has answered (it copies the file into the take)."""
    import tempfile

    shot = find_shot(scene, shot)
    check_shot(scene, shot)
    try:
        scratch_root = shot_folder(root, shot.name) / BLOCKOUT_FOLDER
        scratch_root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="blend_", dir=scratch_root))
        path = folder / "blockout.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, compress=False)
    except (OSError, RuntimeError) as error:
        raise OutputError(f"cannot save a copy of the scene for the runtime into {root}: {error}") from None
    return {"blend": str(path), "scene": scene.name, "camera": shot.camera.name}, folder
