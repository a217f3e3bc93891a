"""The bench's issue-16 figures from a tiny painter on the analytic shot: the long rollout reports resident
memory at minute 1 and 3 and early against late frames, and the step's share of a plain matmul is a share.
Figures only: nothing here asserts how fast anything runs."""
from __future__ import annotations

from pathlib import Path

import torch

from model_runtime.benchmarks.analytic_shot import AnalyticPasses, look, orbit_track
from model_runtime.benchmarks.painter import _against_truth, _long_rollout, _step_share_of_matmul, rss_mb
from model_runtime.models.interface import ShotInput
from model_runtime.painter import checkpoint
from model_runtime.painter.network import PainterConfig, PainterNet
from model_runtime.painter.session import PainterModel


def _tiny(tmp_path: Path) -> PainterModel:
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    checkpoint.save(PainterNet(PainterConfig(widths=(8, 16, 16, 16), blocks=1, notes_hidden=16)), path)
    return PainterModel(path, name="tiny", max_memory_points=5_000)


def test_the_long_rollout_reports_memory_at_each_minute_and_early_against_late(tmp_path: Path):
    figures = _long_rollout(_tiny(tmp_path), 1_500, 32, 18, rounds=2)
    assert figures["long_frames"] == 1_500
    assert 0 < figures["rss_mb_minute_1"] <= rss_mb() * 1.5 and figures["rss_mb_minute_3"] > 0
    assert abs(figures["rss_growth_minute_1_to_3"] - (figures["rss_mb_minute_3"] / figures["rss_mb_minute_1"] - 1)) < 1e-3
    assert 0 < figures["memory_points_at_end"] <= 5_000
    assert figures["long_late_over_early"] > 0 and figures["long_ms_per_frame_100_200"] > 0
    for window in ("start", "end"):  # drift against the shot's truth at the start and the end
        assert 0 < figures[f"long_psnr_{window}"] < 60 and figures[f"long_colour_shift_{window}"] > 0


def test_the_truth_against_itself_has_no_drift_and_the_layout_of_its_silhouettes():
    track = orbit_track(1, 96, 54)
    figures = _against_truth(look(track["frames"][0], 96, 54), track["frames"][0], 96, 54)
    assert figures["psnr"] >= 60 and figures["colour_shift"] == 0 and figures["layout"] > 0.3


def test_the_step_share_of_matmul_counts_the_painter_step(tmp_path: Path):
    track = orbit_track(14, 64, 36)  # frames 10-13 counted, as the fps is measured from frame 10
    shot = ShotInput("a red box on a stone floor", track, 0, passes=AnalyticPasses(track))
    figures = _step_share_of_matmul(_tiny(tmp_path), shot, fps=10.0, size=256)
    assert figures["step_gflop"] > 0 and figures["matmul_gflops_per_s"] > 0
    assert abs(figures["step_gflops_per_s"] - 10 * figures["step_gflop"]) < 0.2
    assert figures["step_share_of_matmul"] > 0
