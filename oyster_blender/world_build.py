"""A world from the shot's notes, in the artist's scene (bpy and the standard library only).

The extension has no numpy, so the runtime's Python builds the world: `run_builder` runs
`<runtime python> -m model_runtime world ... --out <scratch>/world.blend` (the data renderer's own builder,
plain materials; docs/world_from_notes.md), and `place_world` appends that file's objects into the scene's
collection "Oyster World". Everything the builder made carries the custom property `oyster_world`; a
rebuild removes exactly those objects of the collection (and their meshes and materials) and appends the
new world, so what the artist added to the collection stays. The operator that calls `build_world` is one
undo step.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy

from .core import world_description as wd
from .core.world_description import WorldError
from .settings import RuntimeSettings, SettingsError, local_runtime

WORLD_COLLECTION = "Oyster World"
TAG = "oyster_world"
CAMERA_TAG = "oyster_world_camera"
DESCRIPTION_KEY = "oyster_world_description"
BUILD_TIMEOUT_S = 600


@dataclass
class PlacedWorld:
    description: dict
    collection: bpy.types.Collection
    added: int
    """Objects appended (the camera included when the notes gave one)."""
    removed: int
    """Objects of the previous build removed."""
    kept: int
    """The artist's objects in the collection, untouched."""
    camera: bpy.types.Object | None


def check_scene(scene: bpy.types.Scene) -> None:
    """WorldError when the world cannot go into this scene without editing a library."""
    if scene.library is not None:
        raise WorldError(f"scene '{scene.name}' is linked from the library {scene.library.filepath}: it cannot "
                         "be edited here; build the world in a local scene (or make this one local)")
    if scene.override_library is not None:
        raise WorldError(f"scene '{scene.name}' is a library override of {scene.override_library.reference.name!r}: "
                         "build the world in a local scene")
    collection = world_collection(scene)
    if collection is not None and (collection.library is not None or collection.override_library is not None):
        where = collection.library.filepath if collection.library is not None else "a library override"
        raise WorldError(f"the collection '{collection.name}' comes from {where}: a rebuild would have to edit "
                         "the library; make it local or remove it from the scene first")


def world_collection(scene: bpy.types.Scene) -> bpy.types.Collection | None:
    """The scene's world collection: the one the builder marked, else one named "Oyster World"."""
    children = list(scene.collection.children_recursive)
    marked = [c for c in children if c.get(TAG) is True]
    if marked:
        return marked[0]
    return next((c for c in children if c.name == WORLD_COLLECTION), None)


def description_of(scene: bpy.types.Scene) -> dict | None:
    """The description of the scene's last build, or None."""
    collection = world_collection(scene)
    text = collection.get(DESCRIPTION_KEY) if collection is not None else None
    if not text:
        return None
    try:
        return wd.loads(text)
    except WorldError:
        return None


def builder_command(settings: RuntimeSettings, notes: str, seed: int, frame_start: int, frames: int, fps: float,
                    size: tuple[int, int], out: Path) -> tuple[list[str], Path]:
    """The runtime's `world` command and the repository to run it in; WorldError when no runtime is set up."""
    try:
        python, root = local_runtime(settings)
    except SettingsError as error:
        raise WorldError(f"building a world needs the runtime's Python: {error}") from None
    return [python, "-m", "model_runtime", "world", "--notes", notes, "--seed", str(seed), "--frames", str(frames),
            "--frame-start", str(frame_start), "--fps", f"{fps:g}", "--size", f"{size[0]}x{size[1]}",
            "--out", str(out)], root


def run_builder(settings: RuntimeSettings, notes: str, seed: int, frame_start: int, frames: int, fps: float,
                size: tuple[int, int], scratch: Path) -> tuple[Path, dict]:
    """Build the world in the runtime's Python into `scratch/world.blend`; its path and description."""
    wd_notes_check(notes)
    out = scratch / "world.blend"
    command, root = builder_command(settings, notes, seed, frame_start, frames, fps, size, out)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p))
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise WorldError(f"the world builder took over {BUILD_TIMEOUT_S} s and was stopped") from None
    except OSError as error:
        raise WorldError(f"cannot run the runtime's Python {command[0]}: {error.strerror or error}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise WorldError(lines[-1] if done.returncode == 2 and lines else
                         f"the world builder failed (exit {done.returncode}): {lines[-1] if lines else 'no output'}")
    json_path = out.with_suffix(".world.json")
    if not out.is_file() or not json_path.is_file():
        raise WorldError(f"the world builder wrote no world into {scratch}")
    return out, wd.loads(json_path.read_text(encoding="utf-8"))


def wd_notes_check(notes: str) -> None:
    """The notes' own problems, before the runtime is asked (empty, too long, NUL, broken Unicode)."""
    if not notes.strip():
        raise WorldError("the shot has no notes: describe the world first (e.g. 'foggy coastal road at dusk, "
                         "slow push in')")
    if len(notes) > wd.MAX_NOTES:
        raise WorldError(f"the notes are {len(notes):,} characters long; at most {wd.MAX_NOTES:,} (shorten them)")
    if "\x00" in notes:
        raise WorldError("the notes contain a NUL character")


def _made(collection: bpy.types.Collection) -> list[bpy.types.Object]:
    return [o for o in collection.objects if o.get(TAG) is not None]


def _in_use_as_shot_camera(scene: bpy.types.Scene, obj: bpy.types.Object) -> bool:
    shots = getattr(getattr(scene, "oyster", None), "shots", [])
    return any(shot.camera == obj for shot in shots) or scene.camera == obj


def _remove(objects: list[bpy.types.Object]) -> None:
    """Remove objects with their meshes, camera data, actions and the builder's materials no one else uses."""
    def unique(blocks) -> list:
        return list({b.as_pointer(): b for b in blocks if b is not None}.values())

    datas = unique(o.data for o in objects)
    actions = unique([o.animation_data.action for o in objects if o.animation_data] +
                     [d.animation_data.action for d in datas if getattr(d, "animation_data", None)])
    materials = unique(m for d in datas if isinstance(d, bpy.types.Mesh) for m in d.materials)
    for obj in objects:
        bpy.data.objects.remove(obj)
    for data in datas:
        if data.users == 0:
            (bpy.data.meshes if isinstance(data, bpy.types.Mesh) else bpy.data.cameras).remove(data)
    for mat in materials:
        if mat.users == 0 and mat.get(TAG) is not None:
            bpy.data.materials.remove(mat)
    for action in actions:
        if action.users == 0:
            bpy.data.actions.remove(action)


def place_world(scene: bpy.types.Scene, blend: Path, description: dict, shot=None) -> PlacedWorld:
    """Replace the previous build's objects of the scene's "Oyster World" collection (created when missing)
    with the world of `blend`; the artist's objects in the collection stay. With camera words in the notes
    the world's camera becomes `shot`'s camera; without, the shot's camera stays."""
    wd.check_description(description)
    check_scene(scene)
    if not blend.is_file():
        raise WorldError(f"no world file at {blend}")
    collection = world_collection(scene)
    if collection is None:
        collection = bpy.data.collections.new(WORLD_COLLECTION)
        scene.collection.children.link(collection)
    old = _made(collection)
    keep_cameras = [] if description["camera_from_notes"] else \
        [o for o in old if o.get(CAMERA_TAG) and _in_use_as_shot_camera(scene, o)]
    old = [o for o in old if o not in keep_cameras]
    artist = len(collection.objects) - len(old) - len(keep_cameras)
    _remove(old)
    with bpy.data.libraries.load(str(blend), link=False) as (source, target):
        target.objects = list(source.objects)
    camera = None
    added = 0
    for obj in target.objects:
        if obj is None:
            continue
        if obj.get(CAMERA_TAG):
            if not description["camera_from_notes"]:
                _remove([obj])
                continue
            camera = obj
        collection.objects.link(obj)
        added += 1
    collection[TAG] = True
    collection[DESCRIPTION_KEY] = wd.dumps(description)
    if camera is not None and shot is not None:
        shot.camera = camera
        shot.camera_name = camera.name
    return PlacedWorld(description, collection, added, len(old), artist, camera)


def build_world(scene: bpy.types.Scene, shot, seed: int, settings: RuntimeSettings) -> PlacedWorld:
    """The shot's notes to a world in the scene over the shot's frames (everything checked before the scene
    changes; the runtime builds into a scratch folder that is deleted afterwards)."""
    check_scene(scene)
    wd_notes_check(shot.notes)
    if not 0 <= seed <= wd.MAX_SEED:
        raise WorldError(f"the world seed must be within 0..{wd.MAX_SEED}, got {seed}")
    frames = shot.frame_end - shot.frame_start + 1
    if frames < 1:
        raise WorldError(f"the shot's frame range {shot.frame_start}-{shot.frame_end} is empty")
    with tempfile.TemporaryDirectory(prefix="oyster_world_") as tmp:
        blend, description = run_builder(settings, shot.notes, seed, shot.frame_start, frames, shot.fps,
                                         (shot.resolution_x, shot.resolution_y), Path(tmp))
        return place_world(scene, blend, description, shot)
