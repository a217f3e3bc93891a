"""The artist-style held-out split (model_runtime/data/artist.py) in real bpy: plain default-named primitives,
an animated camera, the passes and the look of a tiny clip, and the command that writes the split."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from model_runtime.data.artist import artist_blockout, build_blockout, render_artist_clip  # noqa: E402
from model_runtime.data.artist_plan import ARRANGEMENTS, ARTIST_SEED_BASE, artist_plan  # noqa: E402
from model_runtime.data.shards import load_clips  # noqa: E402
from model_runtime.data.split import VAL_SEED_BASE, train_plan, val_plan  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
DEFAULT_NAME = re.compile(r"^(Cube|Cylinder|Cone|Sphere|Plane)(\.\d{3})?$")


def test_seeds_are_disjoint_from_training_and_validation():
    artist = {p.scene_seed for p in artist_plan(8)}
    assert min(artist) == ARTIST_SEED_BASE > VAL_SEED_BASE + 1_000_000
    assert not artist & {p.scene_seed for p in val_plan(24) + train_plan(999, 10)}
    assert [p.move for p in artist_plan(4)] == list(ARRANGEMENTS.values())


@pytest.mark.parametrize("arrangement", list(ARRANGEMENTS))
def test_the_blockout_is_unnamed_untextured_primitives_and_a_keyed_camera(arrangement):
    scene, cam, objects = build_blockout(artist_blockout(ARTIST_SEED_BASE, arrangement), 32, 24, 64, 36)
    meshes = [o for o in scene.objects if o.type == "MESH"]
    assert len(meshes) == len(objects) >= 5
    assert all(DEFAULT_NAME.match(o.name) and DEFAULT_NAME.match(o.data.name) for o in meshes)
    assert any(o.name.endswith(".001") for o in meshes)
    assert not bpy.data.materials and not any(o.data.materials for o in meshes) and not bpy.data.images
    assert cam.name == "Camera" and scene.camera == cam
    curves = cam.animation_data.action.fcurves
    assert 2 <= len(curves[0].keyframe_points) <= 5
    scene.frame_set(1)
    first = np.array(cam.matrix_world)
    scene.frame_set(32)
    assert not np.allclose(first, np.array(cam.matrix_world))


def test_a_tiny_clip_has_the_shapes_the_passes_and_the_look():
    clip = render_artist_clip(ARTIST_SEED_BASE + 2, "monument", 3, 64, 36, time_of_day="dusk", weather="fog")
    assert clip.rgb.shape == (3, 36, 64, 3) and clip.rgb.dtype == np.uint8
    assert clip.depth.shape == clip.shade.shape == (3, 36, 64) and clip.shade.dtype == np.uint8
    surface = np.isfinite(clip.depth)
    assert surface.mean() > 0.2 and (~surface).any()          # the plaza and the monument, sky above
    assert (clip.depth[surface] > 0).all() and (clip.depth[surface] < 1000).all()
    assert clip.shade[surface].std() > 0                      # the grey shading of the geometry
    assert clip.objects.shape == (3, 36, 64) and (clip.objects[~surface] == 0).all()  # the object pass, sky 0
    assert len(np.unique(clip.objects[0][surface[0]])) >= 2    # the plaza and the monument's primitives
    assert clip.rgb.reshape(-1, 3).std(0).min() > 3           # a look, not a flat fill
    meta = clip.meta
    assert meta["labels"]["time_of_day"] == "dusk" and meta["labels"]["weather"] == "fog"
    assert meta["labels"]["setting"] == "street" and meta["move"] == "orbit"
    assert len(meta["track"]["frames"]) == 3 and meta["track"]["width"] == 64
    assert "monument" in meta["caption"]
    # the rendered file is the dressed blockout: the same default-named primitives, now with materials
    assert all(DEFAULT_NAME.match(o.name) and o.data.materials for o in bpy.context.scene.objects if o.type == "MESH")


def test_the_command_writes_the_split(tmp_path):
    done = subprocess.run([sys.executable, "-m", "model_runtime", "data", "render", "--split", "artist",
                           "--out", str(tmp_path), "--scenes", "2", "--frames", "2", "--res", "64x36",
                           "--shard-size", "2"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    clips = load_clips(tmp_path)
    assert [c.scene_seed for c in clips] == [ARTIST_SEED_BASE, ARTIST_SEED_BASE + 1]
    assert [c.move for c in clips] == ["crane_up", "whip_pan"] and all(c.shade is not None for c in clips)
    assert clips[0].rgb.shape == (2, 36, 64, 3)
