"""`eval-ahead` as a real process on a tiny dataset of the analytic shot: both runs paint the same crops, the one
with the ring past the frame paints ahead, the report holds the painter evaluation's figures for each."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from model_runtime.benchmarks.analytic_shot import AnalyticPasses, cast, look, orbit_track
from model_runtime.data.shards import FORMAT_VERSION, shard_name, write_shard

ROOT = Path(__file__).resolve().parents[1]
W, H, FRAMES = 128, 72, 6


def test_eval_ahead_paints_the_same_crops_with_and_without_the_ring(tmp_path: Path):
    track = orbit_track(FRAMES, W, H)
    passes = AnalyticPasses(track)
    rgb = [look(f, W, H) for f in track["frames"]]
    depth = [np.where(d > 0, d, np.inf) for d in (cast(f, W, H)[0] for f in track["frames"])]
    shade = [passes.frame(i).shade for i in range(FRAMES)]
    meta = {"scene_seed": 0, "caption": "a red box on a stone floor at dusk", "labels": {}, "move": "orbit",
            "track": track}
    data = tmp_path / "data"
    data.mkdir()
    write_shard(data / shard_name(0), np.array([rgb]), np.array([depth], np.float32), [meta], np.array([shade]))
    (data / "dataset.json").write_text(json.dumps({"format": FORMAT_VERSION, "split": "val"}))
    out = tmp_path / "report"
    subprocess.run([sys.executable, "-m", "model_runtime", "eval-ahead", "--data", str(data), "--out", str(out),
                    "--frames", str(FRAMES)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    report = json.loads((out / "report.json").read_text())
    assert report["clips"] == 1 and report["ring"] == 16
    ahead, within = report["runs"]["ahead"], report["runs"]["within the frame"]
    for figures in (ahead, within):
        assert 5 < figures["psnr"] < 60 and 0 < figures["ssim"] <= 1 and figures["network"]["calls"] >= 1
    assert ahead["network"]["kpx"] != within["network"]["kpx"]  # the ring was painted ahead of the orbit
    assert "| ahead |" in (out / "report.md").read_text()
