"""`ray-submit` on a real local Ray cluster of 2 CPUs: a 4-shot batch from a .blend made by a plain bpy script.

The test starts the cluster (ray.init(num_cpus=2)) and the command connects to it by its address, as it
would to a farm's head node; each Ray task runs `generate --blend` (its child Blender renders the passes,
the painter paints them). A fifth entry names a missing file: it fails with the reason, the others finish.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from model_runtime.farm.ray_submit import Entry, parse_entry, read_list

ROOT = Path(__file__).resolve().parents[1]
SHOTS = {"sh010": (1, 2), "sh020": (3, 4), "sh030": (5, 6), "sh040": (7, 8)}

SCENE = textwrap.dedent("""
    import bpy, math, sys
    bpy.ops.wm.read_factory_settings(use_empty=True)
    import oyster_blender
    from oyster_blender import api
    oyster_blender.register()
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 64, 36
    scene.frame_start, scene.frame_end = 1, 8
    bpy.ops.mesh.primitive_plane_add(size=200, location=(0, 8, 0), rotation=(math.radians(90), 0, 0))
    bpy.ops.mesh.primitive_cube_add(size=0.5, location=(0, 3, 0))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.4, location=(1, 4, 0.5))
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    cam.rotation_euler = (math.radians(90), 0, 0)  # looking along +Y
    for frame, x in ((1, 0.0), (8, 0.7)):
        cam.location = (x, 0, 0)
        cam.keyframe_insert("location", frame=frame)
    scene.camera = cam
    for index, (name, start, end) in enumerate(%r):
        api.add_shot(scene, name, cam, start, end, notes="a stone wall at dusk", seed=index, resolution=(64, 36),
                     model="oyster-painter")
    bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])
""" % [(name, start, end) for name, (start, end) in SHOTS.items()])


def test_entries_and_lists_resolve_their_paths(tmp_path: Path):
    assert parse_entry("a b/x.blend:sh010", tmp_path) == Entry(tmp_path / "a b" / "x.blend", "sh010")
    assert parse_entry("/abs/x.blend:Plan 2: ruelle", tmp_path) == Entry(Path("/abs/x.blend"), "Plan 2: ruelle")
    with pytest.raises(ValueError, match="not FILE.blend:SHOT"):
        parse_entry("x.blend", tmp_path)
    listing = tmp_path / "lists" / "shots.txt"
    listing.parent.mkdir()
    listing.write_text("# the batch\n\nlayout.blend:sh010\n  /abs/y.blend:sh020  \n")
    assert read_list(listing) == [Entry(listing.parent / "layout.blend", "sh010"), Entry(Path("/abs/y.blend"), "sh020")]
    listing.write_text("layout.blend:sh010\noops\n")
    with pytest.raises(ValueError, match="shots.txt:2: 'oops' is not FILE.blend:SHOT"):
        read_list(listing)


def test_bad_arguments_and_an_address_nobody_answers_are_refused_before_any_work(tmp_path: Path, capsys):
    from model_runtime.__main__ import main

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    entry = f"{tmp_path / 'a.blend'}:sh010"
    cases = [(["--address", f"127.0.0.1:{port}", entry], f"cannot reach a Ray cluster at '127.0.0.1:{port}': "
                                                         f"nothing answers at 127.0.0.1:{port}"),
             (["--address", "nonsense", entry], "--address must be local, auto, HOST:PORT or ray://HOST:PORT"),
             (["--num-cpus", "2", entry], "--num-cpus is for --address local"),
             ([], "no shots"), (["--list", str(tmp_path / "none.txt")], "cannot read --list")]
    for argv, message in cases:
        assert main(["ray-submit", "--out", str(tmp_path), *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not (tmp_path / "oyster").exists()


@pytest.fixture(scope="module")
def blend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blend") / "four shots.blend"
    subprocess.run([sys.executable, "-c", SCENE, str(path)], check=True, capture_output=True, cwd=ROOT)
    return path


@pytest.fixture
def cluster():
    """A local Ray cluster of 2 CPUs; its GCS address. Its workers import the runtime from this checkout, and
    its token (Ray's token authentication is on by default) is in RAY_AUTH_TOKEN for the command, not in
    ~/.ray/auth_token."""
    import ray

    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
        env.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        info = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield info.address_info["gcs_address"]
        finally:
            ray.shutdown()


@pytest.mark.slow
def test_a_four_shot_batch_on_two_workers_makes_every_take_and_a_missing_file_fails_alone(
        blend: Path, cluster: str, tmp_path: Path):
    out = tmp_path / "project"
    missing = tmp_path / "nowhere.blend"
    entries = [f"{blend}:{shot}" for shot in SHOTS] + [f"{missing}:sh050"]
    again = f"{blend}:sh010"  # the same shot twice in one batch: two takes, never one folder
    done = subprocess.run([sys.executable, "-m", "model_runtime", "ray-submit", "--address", cluster, "--out", str(out),
                           "--device", "cpu", *entries, again], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]  # one shot failed
    assert lines[-1].startswith("ray-submit: 5 of 6 shots done, 1 failed"), done.stdout
    rows = [line.split("\t") for line in lines[:-1]]
    assert sorted(row[1] for row in rows) == sorted([*entries, again]), done.stdout
    twice = sorted(Path(row[2]).name for row in rows if row[1] == again)
    assert twice == ["take_001", "take_002"]
    pids = set()
    for status, entry, where, pid, node, _ in rows:
        if entry == f"{missing}:sh050":
            assert status == "failed" and f"no .blend file at {missing}" in where and "filesystem" in where
            continue
        shot = entry.rpartition(":")[2]
        start, end = SHOTS[shot]
        assert status == "done" and pid.startswith("pid=") and node.startswith("node="), entry
        take = Path(where)
        assert take.parent == out / "oyster" / shot
        assert sorted(p.name for p in take.glob("*.png")) == [f"{f:04d}.png" for f in range(start, end + 1)]
        record = json.loads((take / "take.json").read_text())
        assert record["status"] == "done" and record["shot"] == shot and record["model"] == "oyster-painter"
        assert record["seed"] == list(SHOTS).index(shot) and record["device"] == "cpu"
        pids.add(pid)
    assert len(pids) >= 2, rows  # the shots ran on both workers, not one after another in one process
    assert not list(out.rglob(".*.tmp"))


@pytest.mark.slow
def test_a_local_cluster_of_the_command_reports_an_unknown_shot_with_blenders_reason(blend: Path, tmp_path: Path):
    env = dict(os.environ, RAY_AUTH_TOKEN=secrets.token_hex(32))  # the local cluster's token, not in ~/.ray
    done = subprocess.run([sys.executable, "-m", "model_runtime", "ray-submit", "--address", "local", "--num-cpus",
                           "1", "--out", str(tmp_path), f"{blend}:sh999"], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    status, entry, reason, pid, node, _ = done.stdout.splitlines()[0].split("\t")
    assert status == "failed" and entry == f"{blend}:sh999" and pid.startswith("pid=")
    assert "has no shot 'sh999'" in reason and "its shots: sh010, sh020, sh030, sh040" in reason
    assert done.stdout.splitlines()[-1].startswith("ray-submit: 0 of 1 shots done, 1 failed")
    assert not (tmp_path / "oyster").exists()
