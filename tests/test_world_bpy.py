"""The world from the notes in Blender: the `world` command's .blend, the extension's build into
"Oyster World" (rebuilds, the artist's objects, the camera), determinism and the refusals (real bpy)."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from oyster_blender.settings import RuntimeSettings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NOTES = "foggy coastal road at dusk, low camera, slow push in, wide lens, no people"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict]:
    """The extension's path to a world: the runtime's `world` command in its own process (48 frames)."""
    from oyster_blender import world_build

    return world_build.run_builder(RuntimeSettings(python=sys.executable), NOTES, 7, 1, 48, 24.0, (384, 216),
                                   tmp_path_factory.mktemp("world"))


def _signature(collection) -> list:
    bpy.context.scene.frame_set(1)
    rows = []
    for obj in sorted(collection.objects, key=lambda o: o.name):
        if obj.get("oyster_world") is None:
            continue
        mats = [(m.name, tuple(round(c, 5) for c in m.diffuse_color)) for m in getattr(obj.data, "materials", [])]
        rows.append((obj.name, obj.type, tuple(round(v, 5) for row in obj.matrix_world for v in row), mats,
                     len(obj.data.vertices) if obj.type == "MESH" else 0))
    return rows


def _shot_scene(notes: str = NOTES):
    from oyster_blender import api

    scene = bpy.context.scene
    return scene, api.add_shot(scene, "sh010", notes=notes)


def test_the_world_command_writes_a_blend_that_reopens_with_its_shot(world, oyster_scene):
    import oyster_blender
    from oyster_blender import api, world_build

    blend, description = world
    assert description["fields"]["setting"]["value"] == "coast" and description["camera_from_notes"]
    oyster_blender.unregister()
    bpy.ops.wm.open_mainfile(filepath=str(blend), load_ui=False)
    oyster_blender.register()
    scene = bpy.context.scene
    shot = api.find_shot(scene, "world")
    assert shot.notes == NOTES and shot.seed == 7 and (shot.frame_start, shot.frame_end) == (1, 48)
    assert shot.camera.name == "Oyster World Camera" and scene.camera == shot.camera
    assert api.shot_problem(scene, shot) is None
    request = api.shot_request(scene, shot)  # what `generate --blend FILE --shot world` sends
    assert len(request["track"]["frames"]) == 48
    assert request["track"]["frames"][0]["c2w"] != request["track"]["frames"][-1]["c2w"]  # the push-in moves
    collection = world_build.world_collection(scene)
    assert collection.name == "Oyster World" and world_build.description_of(scene) == description
    assert all(o.get("oyster_world") for o in collection.objects)
    assert not any(o.type == "MESH" and o.data.materials[0].use_nodes for o in collection.objects)  # plain
    assert not bpy.data.images  # no textures in a blockout
    oyster_blender.unregister()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    oyster_blender.register()  # the fixture unregisters


def test_same_notes_and_seed_give_the_same_world(world, oyster_scene):
    from model_runtime.worldgen.blend import build_world
    from oyster_blender import world_build

    blend, description = world
    scene, shot = _shot_scene()
    placed = world_build.place_world(scene, blend, description, shot)
    first = _signature(placed.collection)
    assert len(first) == placed.added > 20
    direct = bpy.data.collections.new("direct")  # the runtime's builder in this process, same description
    scene.collection.children.link(direct)
    objects, camera = build_world(copy.deepcopy(description), scene, direct, 1, 48, 24.0)
    def base(rows):  # the second build's names carry Blender's .001 (the first build's names are taken)
        return [(r[0].split(".")[0], r[1], r[2], [(m.split(".")[0], c) for m, c in r[3]], r[4]) for r in rows]

    assert base(_signature(direct)) == base(first)
    assert [r[0] for r in first] == sorted(o.name for o in placed.collection.objects)  # no suffix in the first


def test_a_rebuild_replaces_only_its_own_objects_and_keeps_the_artists(world, oyster_scene):
    from oyster_blender import world_build

    blend, description = world
    scene, shot = _shot_scene()
    placed = world_build.place_world(scene, blend, description, shot)
    first = _signature(placed.collection)
    mine = bpy.data.objects.new("MyTower", bpy.data.meshes.new("MyTower"))
    placed.collection.objects.link(mine)
    moved = next(o for o in placed.collection.objects if o.type == "MESH")
    moved.location.x += 50  # an edited builder object is the builder's: a rebuild resets it
    meshes, materials = len(bpy.data.meshes), len(bpy.data.materials)
    again = world_build.place_world(scene, blend, description, shot)
    assert again.collection == placed.collection and again.kept == 1 and again.removed == placed.added
    assert "MyTower" in again.collection.objects and bpy.data.objects["MyTower"] == mine
    assert _signature(again.collection) == first  # the same names: nothing doubled, no .001
    assert [c.name for c in scene.collection.children] == ["Oyster World"]
    assert (len(bpy.data.meshes), len(bpy.data.materials)) == (meshes, materials)


def test_camera_words_set_the_shots_camera_and_without_them_it_stays(world, oyster_scene):
    from oyster_blender import world_build

    blend, description = world
    scene, shot = _shot_scene()
    placed = world_build.place_world(scene, blend, description, shot)
    assert shot.camera == placed.camera and placed.camera.animation_data.action is not None
    scene.frame_set(1)
    start = placed.camera.matrix_world.translation.copy()
    scene.frame_set(48)
    assert (placed.camera.matrix_world.translation - start).length > 0.2

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 48
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    scene, shot = _shot_scene("foggy coastal road at dusk")
    quiet = copy.deepcopy(description)
    quiet["camera_from_notes"] = False
    placed = world_build.place_world(scene, blend, quiet, shot)
    assert placed.camera is None and shot.camera == cam
    assert not any(o.type == "CAMERA" for o in placed.collection.objects)


def test_the_operator_builds_in_one_call_with_an_undo_step(world, oyster_scene, monkeypatch):
    from oyster_blender import world_build, world_panel

    assert "UNDO" in world_panel.OYSTER_OT_build_world.bl_options  # one undo step (docs/world_from_notes.md)
    blend, description = world
    scene, shot = _shot_scene()
    monkeypatch.setattr(world_build, "run_builder", lambda *args: (blend, description))
    scene.oyster_world.seed = 7
    assert bpy.ops.oyster.build_world() == {"FINISHED"}
    assert world_build.world_collection(scene) is not None and shot.camera.name.startswith("Oyster World Camera")


def test_bad_scenes_and_notes_are_refused_and_nothing_changes(world, oyster_scene, tmp_path):
    from oyster_blender import world_build
    from oyster_blender.core.world_description import WorldError

    blend, description = world
    scene, shot = _shot_scene("")
    with pytest.raises(WorldError, match="the shot has no notes"):
        world_build.build_world(scene, shot, 0, RuntimeSettings(python=sys.executable))
    shot.notes = "x" * 10_001
    with pytest.raises(WorldError, match="10,001 characters long"):
        world_build.build_world(scene, shot, 0, RuntimeSettings(python=sys.executable))
    shot.notes = NOTES
    with pytest.raises(WorldError, match="does not exist"):
        world_build.build_world(scene, shot, 0, RuntimeSettings(python=str(tmp_path / "nope" / "python")))
    assert world_build.world_collection(scene) is None

    # a library: a scene and an "Oyster World" collection linked from another file
    library = bpy.data.scenes.new("LibScene")
    lib_world = bpy.data.collections.new("Oyster World")
    library.collection.children.link(lib_world)
    lib_world.objects.link(bpy.data.objects.new("LibObject", bpy.data.meshes.new("LibObject")))
    lib_path = tmp_path / "library.blend"
    bpy.data.libraries.write(str(lib_path), {library, lib_world})
    bpy.data.scenes.remove(library)
    bpy.data.collections.remove(lib_world)
    with bpy.data.libraries.load(str(lib_path), link=True) as (source, target):
        target.scenes = ["LibScene"]
    linked = bpy.data.scenes["LibScene", str(lib_path)] if ("LibScene", str(lib_path)) in bpy.data.scenes else \
        next(s for s in bpy.data.scenes if s.library is not None)
    with pytest.raises(WorldError, match="is linked from the library"):
        world_build.place_world(linked, blend, description)
    linked_world = next(c for c in bpy.data.collections if c.library is not None and c.name == "Oyster World")
    scene.collection.children.link(linked_world)
    before = sorted(o.name for o in bpy.data.objects)
    with pytest.raises(WorldError, match="comes from .*library.blend"):
        world_build.place_world(scene, blend, description, shot)
    assert sorted(o.name for o in bpy.data.objects) == before and shot.camera.name == "Cam"


def test_an_artists_own_oyster_world_collection_is_built_into_not_doubled(world, oyster_scene):
    from oyster_blender import world_build

    blend, description = world
    scene, shot = _shot_scene()
    layout = bpy.data.collections.new("Layout")
    scene.collection.children.link(layout)
    theirs = bpy.data.collections.new("Oyster World")  # made by hand, nested, no tag
    layout.children.link(theirs)
    tree = bpy.data.objects.new("MyTree", bpy.data.meshes.new("MyTree"))
    theirs.objects.link(tree)
    placed = world_build.place_world(scene, blend, description, shot)
    assert placed.collection == theirs and placed.kept == 1 and placed.removed == 0
    assert [c.name for c in bpy.data.collections if c.name.startswith("Oyster World")] == ["Oyster World"]
    assert tree.name in theirs.objects and tree.users_collection == (theirs,)


def test_an_oyster_world_that_is_a_library_override_is_refused_and_nothing_changes(world, oyster_scene, tmp_path):
    from oyster_blender import world_build
    from oyster_blender.core.world_description import WorldError

    blend, description = world
    scene, shot = _shot_scene()
    source = bpy.data.collections.new("Oyster World")
    source.objects.link(bpy.data.objects.new("LibObject", bpy.data.meshes.new("LibObject")))
    holder = bpy.data.scenes.new("LibScene")
    holder.collection.children.link(source)
    library = tmp_path / "library.blend"
    bpy.data.libraries.write(str(library), {holder, source})
    bpy.data.scenes.remove(holder)
    bpy.data.collections.remove(source)
    with bpy.data.libraries.load(str(library), link=True) as (_, target):
        target.collections = ["Oyster World"]
    linked = target.collections[0]
    scene.collection.children.link(linked)
    override = linked.override_hierarchy_create(scene, bpy.context.view_layer)
    scene.collection.children.unlink(linked)
    assert override.override_library is not None and world_build.world_collection(scene) == override
    before = sorted((o.name, o.library is not None) for o in bpy.data.objects)
    with pytest.raises(WorldError, match="comes from a library override: a rebuild would have to edit the library"):
        world_build.place_world(scene, blend, description, shot)
    assert sorted((o.name, o.library is not None) for o in bpy.data.objects) == before and shot.camera.name == "Cam"


def test_notes_in_another_script_or_naming_nothing_build_the_seeds_world_through_the_panel(oyster_scene):
    """The real operator and the runtime's Python: a world is built with the reader's message, the artist's
    objects stay; then 10,000 characters naming nothing of the vocabulary rebuild it (read, not refused)."""
    from oyster_blender import world_build

    scene, shot = _shot_scene("Улица ночью под дождём")
    mine = bpy.data.objects.new("MyCube", bpy.data.meshes.new("MyCube"))
    scene.collection.objects.link(mine)
    assert bpy.ops.oyster.build_world() == {"FINISHED"}
    description = world_build.description_of(scene)
    assert any("Cyrillic script" in m for m in description["messages"]) and description["unknown_words"]
    assert all(f["source"] in ("seed", "derived") for f in description["fields"].values())
    collection = world_build.world_collection(scene)
    added = bpy.data.objects.new("MyLamp", bpy.data.meshes.new("MyLamp"))
    collection.objects.link(added)
    world_build.wd_notes_check("a" * 10_000)  # the longest notes pass the panel's own check
    shot.notes = ("a cat sat upon the mat by the old piano. " * 300)[:10_000]
    assert bpy.ops.oyster.build_world() == {"FINISHED"}
    description = world_build.description_of(scene)
    assert any("name nothing of the vocabulary" in m for m in description["messages"])
    assert any("10,000 characters long" in m for m in description["messages"])
    assert {"cat", "piano"} <= set(description["unknown_words"])
    assert [c.name for c in scene.collection.children] == ["Oyster World"]
    assert "MyLamp" in collection.objects and mine.users_collection == (scene.collection,)


def test_the_world_command_refuses_bad_notes_with_one_line(tmp_path):
    for notes, message in (("", "the notes are empty"), ("x" * 10_001, "10,001 characters long")):
        done = subprocess.run([sys.executable, "-m", "model_runtime", "world", "--notes", notes, "--seed", "0",
                               "--frames", "24", "--out", str(tmp_path / "w.blend")], cwd=REPO, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 2 and message in done.stderr.strip().splitlines()[-1]
        assert not (tmp_path / "w.blend").exists()


def test_the_world_command_then_generate_blend_makes_a_take(tmp_path):
    """The issue's command line exactly, then the painter's take of the shot `world` from its file."""
    out = tmp_path / "world.blend"
    done = subprocess.run([sys.executable, "-m", "model_runtime", "world", "--notes",
                           "rainy narrow street at night, slow orbit", "--seed", "1", "--frames", "4", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(out) and out.is_file()
    assert "from the notes: setting: street; time of day: night; weather: rain" in done.stdout
    done = subprocess.run([sys.executable, "-m", "model_runtime", "generate", "--blend", str(out), "--shot", "world",
                           "--out", str(tmp_path / "takes")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    take = Path(done.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in take.glob("*.png")) == ["0001.png", "0002.png", "0003.png", "0004.png"]
