"""`generate --blend` on a .blend made by a plain bpy script: untextured primitives, an animated camera.

Real processes throughout: a child Blender writes the file, the CLI opens it in another child Blender
for the passes, and the painter paints the take. The passes are checked against analytic depth.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
import cv2  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

SCENE = textwrap.dedent("""
    import bpy, math, sys
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 64, 36
    scene.frame_start, scene.frame_end = 1, 3
    bpy.ops.mesh.primitive_plane_add(size=200, location=(0, 8, 0), rotation=(math.radians(90), 0, 0))  # a wall 8 m ahead
    bpy.ops.mesh.primitive_cube_add(size=0.5, location=(0, 3, 0))  # a box, its front face 2.75 m ahead
    data = bpy.data.cameras.new("Camera")
    cam = bpy.data.objects.new("Camera", data)
    scene.collection.objects.link(cam)
    cam.rotation_euler = (math.radians(90), 0, 0)  # looking along +Y
    for frame, x in ((1, 0.0), (3, 0.2)):
        cam.location = (x, 0, 0)
        cam.keyframe_insert("location", frame=frame)
    scene.camera = cam
    bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])
""")


# the same wall with a box that slides 0.3 m to the right over frames 1-2, before a still camera
MOVING = SCENE.replace('bpy.ops.wm.save_as_mainfile', textwrap.dedent("""\
    box = bpy.data.objects["Cube"]
    for frame, x in ((1, 0.0), (2, 0.3)):
        box.location = (x, 3, 0)
        box.keyframe_insert("location", frame=frame)
    cam.animation_data_clear()
    cam.location = (0, 0, 0)
    bpy.ops.wm.save_as_mainfile"""))


@pytest.fixture(scope="module")
def blend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blend") / "plain primitives.blend"
    subprocess.run([sys.executable, "-c", SCENE, str(path)], check=True, capture_output=True, cwd=ROOT)
    return path


def test_passes_of_a_known_scene_match_the_analytic_depth(blend: Path, tmp_path: Path):
    subprocess.run([sys.executable, "-m", "oyster_blender.headless", "--blend", str(blend), "--camera", "Camera",
                    "--frames", "1-1", "--notes", "a wall", "--out", str(tmp_path)], check=True, capture_output=True,
                   cwd=ROOT)
    depth = cv2.imread(str(tmp_path / "passes" / "depth_0001.exr"), cv2.IMREAD_UNCHANGED)[..., 0]
    shade = cv2.imread(str(tmp_path / "passes" / "shade_0001.png"), cv2.IMREAD_GRAYSCALE)
    assert depth.shape == (36, 64) and shade.shape == (36, 64)
    assert depth[18, 32] == pytest.approx(2.75, abs=1e-3)  # the box's front face
    assert depth[2, 2] == pytest.approx(8.0, abs=1e-3)     # the wall, z-depth (not ray length) in the corner
    request = json.loads((tmp_path / "request.json").read_text())
    assert request["passes"]["frames"] == [1] and request["notes"] == "a wall"
    assert request["track"]["width"] == 64


def _passes_only(blend: Path, out: Path, frames: str) -> Path:
    subprocess.run([sys.executable, "-m", "oyster_blender.headless", "--blend", str(blend), "--camera", "Camera",
                    "--frames", frames, "--notes", "a wall", "--out", str(out)], check=True, capture_output=True,
                   cwd=ROOT)
    return out / "passes"


def test_a_moving_object_gets_the_object_pass_and_a_still_scene_does_not(blend: Path, tmp_path: Path):
    from model_runtime.painter.passes import read_passes

    still = _passes_only(blend, tmp_path / "still", "1-3")  # only the camera moves
    assert not list(still.glob("object_*"))
    moving = tmp_path / "moving.blend"
    subprocess.run([sys.executable, "-c", MOVING, str(moving)], check=True, capture_output=True, cwd=ROOT)
    folder = _passes_only(moving, tmp_path / "moving", "1-2")
    first, second = read_passes(folder, [1, 2], 64, 36)
    for frame in (first, second):
        box, wall = frame.object[frame.depth < 3], frame.object[frame.depth > 7]
        assert len(np.unique(box)) == 1 and len(np.unique(wall)) == 1  # one flat id per object, no blending
        assert box[0] != wall[0] and box[0] != 0 and wall[0] != 0     # 0 is only for sky
    assert first.object[18, 32] == second.object[18, 42]  # the box's id moves with it (0.3 m at 2.75 m: ~10 px)
    assert first.object[18, 32] != second.object[18, 32]  # where it was, the wall shows
    assert not (folder / "blockout.json").exists()  # its triangles would show the box where it was at frame 1


def test_where_only_the_camera_moves_the_passes_carry_the_triangles_and_are_drawn_past_the_frame(blend: Path,
                                                                                                  tmp_path: Path):
    """The triangles beside the passes (oyster_blender.passes, `triangles=True`) draw each frame as Workbench
    rendered it, and past its borders (model_runtime/painter/ahead.py paints ahead of a pan there)."""
    from model_runtime.painter.ahead import DrawnPast, reaching
    from model_runtime.painter.passes import FolderPasses, PassesError

    folder = _passes_only(blend, tmp_path / "still", "1-3")
    spec = json.loads((folder / "blockout.json").read_text())
    assert spec["file"] == "blockout.npz" and (folder / spec["file"]).is_file() and spec["clip"][0] < spec["clip"][1]
    track = json.loads((tmp_path / "still" / "request.json").read_text())["track"]
    passes = reaching(FolderPasses(folder, [1, 2, 3], 64, 36), track)
    assert isinstance(passes, DrawnPast)
    frame = passes.frame(2)
    drawn = frame.beyond((-4, 40, -4, 68))
    assert drawn.depth.shape == (44, 72)
    np.testing.assert_allclose(drawn.depth[4:-4, 4:-4], frame.depth, rtol=1e-4)  # Workbench's depth, drawn
    assert drawn.depth[0, 0] == pytest.approx(8.0, abs=1e-3)  # the wall goes on past the corner
    (folder / "blockout.json").write_text(json.dumps(dict(spec, file="../elsewhere.npz")))
    with pytest.raises(PassesError, match="a file beside it"):
        reaching(FolderPasses(folder, [1, 2, 3], 64, 36), track)
    (folder / "blockout.json").write_text("{not json")
    with pytest.raises(PassesError, match="is not the passes' blockout"):
        reaching(FolderPasses(folder, [1, 2, 3], 64, 36), track)


def test_generate_blend_paints_a_take_and_prints_its_folder_last(blend: Path, tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "model_runtime", "generate", "--blend", str(blend),
                           "--camera", "Camera", "--frames", "1-3", "--notes", "a stone wall at dusk",
                           "--model", "oyster-painter", "--seed", "5", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    take = Path(done.stdout.strip().splitlines()[-1])
    assert take.parent == tmp_path / "oyster" / "plain_primitives" or take.parent.parent == tmp_path / "oyster"
    frames = sorted(take.glob("0*.png"))
    assert [f.name for f in frames] == ["0001.png", "0002.png", "0003.png"]
    record = json.loads((take / "take.json").read_text())
    assert record["status"] == "done" and record["model"] == "oyster-painter" and record["seed"] == 5
    assert (take / "inputs" / "passes" / "depth_0003.exr").is_file()
    assert (take / "inputs" / "passes" / "blockout.npz").is_file()  # copied with its passes: drawn past the frame
    first = cv2.imread(str(frames[0]))
    assert first.shape == (36, 64, 3) and first.std() > 1  # a picture, not a flat field


def test_generate_blend_refuses_a_missing_camera_or_file_with_the_reason(blend: Path, tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "model_runtime", "generate", "--blend", str(blend),
                           "--camera", "Nope", "--notes", "x", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "no camera object 'Nope'" in done.stderr and "Camera" in done.stderr
    done = subprocess.run([sys.executable, "-m", "model_runtime", "generate", "--blend", str(tmp_path / "x.blend"),
                           "--shot", "sh010", "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "no .blend file" in done.stderr
    done = subprocess.run([sys.executable, "-m", "model_runtime", "generate", "--blend", str(blend),
                           "--shot", "sh010", "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "no shot 'sh010'" in done.stderr
    assert not (tmp_path / "oyster").exists()
