"""eval-worlds end to end at a tiny size: 2 captions, 4 frames, a small painter checkpoint, a small probe.

The worlds are built by the `world` command's code in a child Python with the real bpy, their passes by the
child Blender of `generate --blend`, painted by the given checkpoint, beside oyster-tiny from the notes alone.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("bpy")

from eval_scenes import pose, render, track  # noqa: E402
from model_runtime.__main__ import main  # noqa: E402
from model_runtime.data.shards import FORMAT_VERSION, load_clips, shard_name, write_shard  # noqa: E402
from model_runtime.evaluation import world_eval  # noqa: E402
from model_runtime.evaluation.probe import file_sha256, load_probe, probe_accuracy, train_probe  # noqa: E402
from model_runtime.models.geometry import intrinsics_matrix  # noqa: E402
from model_runtime.painter import checkpoint  # noqa: E402
from model_runtime.painter.network import PainterConfig, PainterNet  # noqa: E402

W, H, FRAMES = 96, 54, 4
K = intrinsics_matrix(75.0, 75.0, W / 2, H / 2)
CAPTIONS = [("narrow city street at night in the rain, eye level, slow push in",
             {"time_of_day": "night", "weather": "rain", "setting": "street"}),
            ("foggy coastal road at dusk, low camera, orbit around the subject",
             {"time_of_day": "dusk", "weather": "fog", "setting": "coast"})]


def write_dataset(folder: Path, captions: list[tuple[str, dict]], frames: int) -> None:
    rgb, depth, metas = [], [], []
    for seed, (caption, labels) in enumerate(captions):
        poses = [pose(0.5 * i * (seed + 1)) for i in range(frames)]
        views = [render(p, K, W, H) for p in poses]
        rgb.append([(v[0] * (0.3 if labels["time_of_day"] == "night" else 0.8)).astype(np.uint8) for v in views])
        depth.append([v[1] for v in views])
        metas.append({"scene_seed": seed, "caption": caption, "move": "pan", "labels": labels,
                      "track": track(poses, K, W, H)})
    folder.mkdir(parents=True)
    write_shard(folder / shard_name(0), np.array(rgb), np.array(depth), metas)
    (folder / "dataset.json").write_text(json.dumps({"format": FORMAT_VERSION, "generator": "test", "shards": 1}))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    root = tmp_path_factory.mktemp("worlds")
    write_dataset(root / "val", CAPTIONS + [("a bright office during the day, static shot",
                                             {"time_of_day": "day", "weather": "clear", "setting": "room"})], FRAMES)
    write_dataset(root / "train", CAPTIONS[::-1], 2)
    probe = root / "probe.safetensors"
    train_probe(load_clips(root / "train"), probe, steps=20)
    torch.manual_seed(0)
    net = PainterNet(PainterConfig(widths=(8, 16, 16, 16), blocks=1, notes_hidden=16))
    painter = root / "small_painter.safetensors"
    checkpoint.save(net, painter)
    out = root / "report"
    assert main(["eval-worlds", "--data", str(root / "val"), "--out", str(out), "--clips", "2", "--frames",
                 str(FRAMES), "--painter", str(painter), "--probe", str(probe), "--work", str(root / "work")]) == 0
    return root, out, painter, probe


def test_the_report_holds_the_worlds_the_ground_truth_and_the_notes_alone_baseline(evaluated):
    root, out, painter, probe_path = evaluated
    report = json.loads((out / "report.json").read_text())
    assert report["clips"] == 2 and report["frames"] == FRAMES and report["size"] == [W, H]
    assert "--painter" in report["command"] and str(painter) in report["command"]
    assert report["painter"]["checkpoint_sha256"] == file_sha256(painter)
    assert report["probe"]["sha256"] == file_sha256(probe_path) and report["probe"]["train_clips"] == 2
    worlds, alone, gt = report["worlds"], report["notes_alone"], report["ground_truth"]
    assert worlds["built"] == 2 and worlds["refused"] == []
    assert [c["caption"] for c in worlds["per_clip"]] == [c for c, _ in CAPTIONS]
    # the reader read the captions: the worlds are the captions' settings, times and weathers
    assert [c["world"] for c in worlds["per_clip"]] == [
        {k: labels[k] for k in ("setting", "time_of_day", "weather")} for _, labels in CAPTIONS]
    assert worlds["reader_matches"] == {"setting": 1.0, "time_of_day": 1.0, "weather": 1.0}
    # the ground truth's probe figure is the probe on the val frames, and the shares are against it
    clips = load_clips(root / "val")[:2]
    expected = probe_accuracy(load_probe(probe_path), [f for c in clips for f in c.rgb[:FRAMES]],
                              [c.labels for c in clips for _ in range(FRAMES)])
    assert gt["probe"] == pytest.approx(expected)
    for figures in (worlds, alone):
        assert figures["probe_share"] == pytest.approx(figures["probe"]["mean"] / gt["probe"]["mean"])
        assert figures["warping_over_truth"] == pytest.approx(figures["warping_error"] / gt["warping_error"])
        assert len(figures["per_clip"]) == 2 and np.isfinite(figures["warping_error"])
    assert alone["model"] == "oyster-tiny"
    for world in worlds["per_clip"]:
        assert 0.0 <= world["sky_share"] < 1.0  # a world is geometry, not sky
        assert np.isfinite(world["layout"]) and world["warping_error"] >= 0.0
    assert set(report["seconds"]) == {"worlds", "passes", "paint", "baseline", "total"}
    md = (out / "report.md").read_text()
    assert "painted worlds from the captions" in md and "oyster-tiny from the notes alone" in md


def test_the_worlds_are_the_world_command_s_files_and_the_sheet_has_a_row_per_caption(evaluated):
    root, out, _, _ = evaluated
    for i, (caption, _) in enumerate(CAPTIONS):
        folder = root / "work" / f"world_{i:02d}"
        description = json.loads((folder / "world.world.json").read_text())
        assert description["notes"] == caption and description["seed"] == 0
        request = json.loads((folder / "shot" / "request.json").read_text())
        assert request["shot"] == "world" and request["notes"] == caption
        assert (request["track"]["width"], request["track"]["height"]) == (W, H)
        assert len(request["track"]["frames"]) == FRAMES
        assert len(list((folder / "shot" / "passes").glob("depth_*.exr"))) == FRAMES
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet.shape == (2 * world_eval.TILE[1], len(world_eval.SHEET_COLUMNS) * world_eval.TILE[0], 3)
    assert sheet[:, world_eval.TILE[0]:2 * world_eval.TILE[0]].std() > 0  # the shading pass is drawn


def test_a_probe_is_never_trained_on_the_evaluated_split(evaluated, tmp_path):
    root, *_ = evaluated
    with pytest.raises(SystemExit, match="must not be trained on the split"):
        main(["eval-worlds", "--data", str(root / "val"), "--out", str(tmp_path / "r"), "--probe",
              str(tmp_path / "none.safetensors"), "--train-data", str(root / "val")])
