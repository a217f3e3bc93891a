"""A three-minute take (4,320 frames at 24 fps) at 64x36 with a tiny painter finishes with bounded memory
(issue 16 item 4): the painter's memory stays within its bound, resident memory stays flat after the
first minute. The shot is the analytic box on a floor (model_runtime/benchmarks/analytic_shot.py), orbited six times."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model_runtime.benchmarks.analytic_shot import AnalyticPasses, orbit_track
from model_runtime.benchmarks.painter import rss_mb
from model_runtime.models.interface import ShotInput
from model_runtime.painter import checkpoint
from model_runtime.painter.network import PainterConfig, PainterNet
from model_runtime.painter.session import PainterModel

FRAMES = 4_320          # three minutes at 24 fps
MINUTE = 1_440
MEMORY_POINTS = 20_000  # about nine 64x36 frames of points: the ring is full within the first seconds
RSS_GROWTH_BOUND_MB = 16.0  # minute 1 to the end; a leak of one frame's arrays per frame would be ~100 MB


def test_a_three_minute_take_keeps_its_memory_bounded(tmp_path: Path):
    torch.manual_seed(0)
    net = PainterNet(PainterConfig(widths=(8, 16, 16, 16), blocks=1, notes_hidden=16))
    path = tmp_path / "tiny.safetensors"
    checkpoint.save(net, path)
    model = PainterModel(path, name="tiny", max_memory_points=MEMORY_POINTS)
    track = orbit_track(FRAMES, 64, 36)
    session = model.start(ShotInput("a red box on a chequered stone floor at dusk", track, 0,
                                    passes=AnalyticPasses(track)))
    most_points, at_minute, checksum = 0, None, 0
    for index in range(FRAMES):
        frame = session.step()
        assert frame.shape == (36, 64, 3)
        checksum += int(frame[::8, ::8].sum())
        most_points = max(most_points, len(session.memory))
        if index + 1 == MINUTE:
            at_minute = rss_mb()
    at_end = rss_mb()
    assert session.frame_index == FRAMES and checksum > 0
    assert MEMORY_POINTS * 0.9 <= most_points <= MEMORY_POINTS  # the ring filled and never grew past its bound
    assert at_end - at_minute < RSS_GROWTH_BOUND_MB, f"resident memory {at_minute:.1f} MB at frame {MINUTE}, " \
                                                     f"{at_end:.1f} MB at frame {FRAMES}"
    print(f"rss {at_minute:.1f} MB at frame {MINUTE}, {at_end:.1f} MB at frame {FRAMES}; "
          f"memory points at most {most_points}")
