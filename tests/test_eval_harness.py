"""The evaluation harness end to end on a tiny synthetic dataset: harness, drift, probe, report, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from eval_scenes import pose, render, track
from model_runtime.__main__ import main
from model_runtime.data.shards import FORMAT_VERSION, load_clips, shard_name, write_shard
from model_runtime.evaluation.drift import colour_shift, frame_drift, rollout_drift
from model_runtime.evaluation.harness import evaluate_clip
from model_runtime.evaluation.metrics import PSNR_CAP
from model_runtime.evaluation.probe import load_probe, probe_accuracy, train_probe
from model_runtime.models.baselines import CopyFirstFrame, DepthWarp
from model_runtime.models.geometry import intrinsics_matrix

FRAMES = 8
W, H = 96, 54                                                             # half size: SIFT is the cost here
K = intrinsics_matrix(75.0, 75.0, W / 2, H / 2)
TIMES = {"day": 1.0, "night": 0.15}                                       # brightness: what the probe can learn


def moving_poses(move: str, n: int) -> list[np.ndarray]:
    if move == "pan":
        return [pose(0.6 * i) for i in range(n)]
    if move == "truck":
        return [pose(0.0, t=(0.04 * i, 0.0, 0.0)) for i in range(n)]
    return [pose(0.0)] * n


def write_dataset(folder: Path, clips: list[tuple[str, str]], frames: int = FRAMES, long: bool = True) -> None:
    """A dataset folder in the shard format: one clip per (move, time of day), rendered exactly."""
    rgb, depth, metas = [], [], []
    for seed, (move, time_of_day) in enumerate(clips):
        poses = moving_poses(move, frames)
        views = [render(p, K, W, H) for p in poses]
        rgb.append([(v[0] * TIMES[time_of_day]).astype(np.uint8) for v in views])
        depth.append([v[1] for v in views])
        meta = {"scene_seed": seed, "caption": f"a wall at {time_of_day}, {move}", "move": move,
                "labels": {"time_of_day": time_of_day, "weather": "clear", "setting": "room"}, "track": track(poses, K, W, H)}
        if long:
            meta["long_track"] = track(moving_poses(move, 300), K, W, H)
        metas.append(meta)
    folder.mkdir(parents=True)
    write_shard(folder / shard_name(0), np.array(rgb), np.array(depth), metas)
    (folder / "dataset.json").write_text(json.dumps({"format": FORMAT_VERSION, "generator": "test", "shards": 1}))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_dataset(root / "val", [("pan", "day"), ("truck", "night"), ("static", "night")])
    write_dataset(root / "train", [(m, t) for t in TIMES for m in ("pan", "static")], frames=4, long=False)
    return root


def test_evaluate_clip_measures_against_the_ground_truth(data):
    pan = load_clips(data / "val")[0]
    warp = evaluate_clip(DepthWarp(), pan, 32)
    copy = evaluate_clip(CopyFirstFrame(), pan, 32)
    assert set(warp.psnr) == {8} and len(warp.frames) == 8 and warp.move == "pan"
    assert warp.psnr[8] > copy.psnr[8] + 5 and warp.ssim[8] > copy.ssim[8]
    assert len(warp.model_pose) == len(warp.floor_pose) == 4             # pairs (0, 4) .. (3, 7)
    assert warp.floor_pose == copy.floor_pose                             # the floor does not depend on the model
    static = load_clips(data / "val")[2]
    assert evaluate_clip(CopyFirstFrame(), static, 8).psnr[8] == PSNR_CAP  # frames 2..8 are the first frame
    with pytest.raises(ValueError, match="first frame"):
        evaluate_clip(DepthWarp(), pan, 8, first_frame=False)


def test_drift_against_frame_zero():
    frame = render(pose(0.0))[0]
    assert colour_shift(frame, frame) == 0.0
    darker = (frame * 0.5).astype(np.uint8)
    expected = np.mean(np.abs(darker.reshape(-1, 3).mean(0) - frame.reshape(-1, 3).mean(0))) + \
        np.mean(np.abs(darker.reshape(-1, 3).std(0) - frame.reshape(-1, 3).std(0)))
    assert colour_shift(darker, frame) == pytest.approx(expected)
    grey = np.full_like(frame, 128)
    d = frame_drift([frame, darker, grey])
    assert d["colour_shift_last"] == pytest.approx(colour_shift(grey, frame)) and d["layout_contrast_ratio"] == 0.0
    assert d["colour_shift_max"] >= d["colour_shift_last"]


def test_rollout_drift_of_a_still_is_zero(data):
    clip = load_clips(data / "val")[2]
    d = rollout_drift(CopyFirstFrame(), clip, n=300)
    assert d["colour_shift_last"] == 0.0 and d["layout_contrast_ratio"] == 1.0 and d["fps"] > 0
    with pytest.raises(ValueError, match="long_track"):
        rollout_drift(CopyFirstFrame(), load_clips(data / "train")[0], n=4)


@pytest.fixture
def one_torch_thread():
    """The probe's tiny convolutions run faster on one thread than fighting for two busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_probe_learns_time_of_day_and_round_trips(data, tmp_path, one_torch_thread):
    train = load_clips(data / "train")
    path = tmp_path / "probe.safetensors"
    net = train_probe(train, path, steps=60, batch=16)
    frames = [f for c in load_clips(data / "val") for f in c.rgb]
    labels = [c.labels for c in load_clips(data / "val") for _ in c.rgb]
    acc = probe_accuracy(net, frames, labels)
    assert acc["time_of_day"] == 1.0 and acc["weather"] == 1.0
    assert probe_accuracy(load_probe(path), frames, labels) == acc       # safetensors round trip
    with pytest.raises(ValueError, match="training clips"):
        train_probe([], tmp_path / "none.safetensors")


def test_cli_writes_the_report(data, tmp_path, capsys, one_torch_thread):
    out = tmp_path / "report"
    argv = ["eval", "--model", "depth-warp", "--split", "val", "--data", str(data), "--frames", "8",
            "--drift-clips", "1", "--probe", str(tmp_path / "probe.safetensors"), "--probe-steps", "20",
            "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["command"].startswith("python -m model_runtime eval --model depth-warp --split val")
    assert report["clips"] == 3 and report["frames"] == 8 and report["first_frame"] is True
    overall = report["summary"]["overall"]
    assert set(report["summary"]["by_move"]) == {"pan", "static", "truck"}
    assert overall["psnr@8"] > 30 and 0 < overall["ssim@8"] <= 1 and report["summary"]["fps"] > 0
    assert overall["camera"]["pairs"] == 8 and overall["camera"]["ratio"] is not None
    assert report["drift"]["clips"] == 1 and report["drift"]["frames"] == 300
    probe = report["notes_probe"]
    assert probe["train_clips"] == 4 and probe["notes_only"] is None and "needs the shot's first frame" in \
        probe["notes_only_error"]
    markdown = (out / "report.md").read_text()
    assert "| **overall** | 3 |" in markdown and "| pan | 1 |" in markdown and report["command"] in markdown
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet.shape == (3 * (H * 2 + 4), W * 2, 3)                    # 3 clips, frames 1 and 5
    assert not (out / "contact_sheet_notes_alone.png").exists()          # depth-warp needs a first frame
    assert "# Evaluation: depth-warp" in capsys.readouterr().out


def test_cli_shows_the_frames_made_from_notes_alone(data, tmp_path, one_torch_thread):
    """The world model starts from notes alone: its report has the probe's figure for those frames, and a
    sheet of each clip's ground-truth frame 0 above the first and last frames made from its notes alone."""
    out = tmp_path / "report"
    argv = ["eval", "--model", "oyster-tiny", "--split", "val", "--data", str(data), "--frames", "4",
            "--drift-clips", "0", "--probe", str(tmp_path / "probe.safetensors"), "--probe-steps", "20",
            "--out", str(out)]
    assert main(argv) == 0
    assert set(json.loads((out / "report.json").read_text())["notes_probe"]["notes_only"]) == \
        {"time_of_day", "weather", "setting", "mean"}
    sheet = cv2.imread(str(out / "contact_sheet_notes_alone.png"))[..., ::-1]
    assert sheet.shape == (3 * H, 3 * W, 3)                              # 3 rows, 3 clips
    clips = load_clips(data / "val")
    assert np.array_equal(sheet[:H, W:2 * W], clips[1].rgb[0])           # ground truth on top
    assert np.abs(sheet[H:2 * H].astype(int) - sheet[:H].astype(int)).mean() > 1.0  # generated below it


def test_cli_refuses_bad_runs(data, tmp_path, capsys):
    base = ["eval", "--split", "val", "--data", str(data), "--out", str(tmp_path / "r"), "--no-probe"]
    assert main(base + ["--model", "no-such-model"]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert main(base + ["--model", "depth-warp", "--no-first-frame"]) == 2
    assert "depth-warp cannot run this evaluation: depth-warp needs the shot's first frame" in capsys.readouterr().err
    assert main(base + ["--model", "depth-warp", "--data", str(tmp_path)]) == 2
    assert "not a dataset folder" in capsys.readouterr().err
    probe_on_val = ["eval", "--model", "depth-warp", "--data", str(data), "--train-data", str(data / "val"),
                    "--probe", str(tmp_path / "p.safetensors"), "--out", str(tmp_path / "r")]
    assert main(probe_on_val) == 2
    assert "must not be trained on the split it is evaluated on" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
