"""New sky eased into the remembered sky beside it (model_runtime/painter/seams.py): continuous at the seam,
the network's own level a few pixels on, surfaces and frames without memory untouched."""
from __future__ import annotations

import numpy as np

from model_runtime.painter.memory import MemoryView
from model_runtime.painter.seams import FEATHER, feather_sky

H, W = 36, 64


def view(shown: np.ndarray, colour: float) -> MemoryView:
    rgb = np.where(shown[..., None], colour, 0.0).astype(np.float32) * np.ones((1, 1, 3), np.float32)
    return MemoryView(rgb, shown.copy(), np.zeros_like(shown))


def test_new_sky_starts_at_the_memorys_level_and_fades_to_the_networks():
    remembered = np.zeros((H, W), bool)
    remembered[:, :32] = True  # a pan: the left half remembered, a strip of new sky on the right
    seen = view(remembered, 0.5)
    painted = np.full((H, W, 3), 0.4, np.float32)  # the network paints the sky 0.1 darker than it remembers
    shown = np.where(remembered[..., None], seen.rgb, painted)
    sky = np.zeros((H, W), np.float32)
    eased = feather_sky(shown, painted, seen, sky, np.ones((H, W), bool))
    row = eased[H // 2, :, 0]
    np.testing.assert_array_equal(eased[remembered], shown[remembered])  # the memory is kept as it was
    assert abs(row[32] - 0.5) < 0.02  # no seam: the first new column at the memory's level
    assert np.all(np.diff(row[32:32 + int(FEATHER)]) <= 1e-6)  # easing down, never overshooting
    np.testing.assert_allclose(row[32 + int(FEATHER) + 2:], 0.4, atol=1e-6)  # the network's own level beyond

    surface = np.full((H, W), 5.0, np.float32)  # the same strip on a wall: its texture is left alone
    np.testing.assert_array_equal(feather_sky(shown, painted, seen, surface, np.ones((H, W), bool)), shown)
    nothing = view(np.zeros((H, W), bool), 0.0)  # no memory: nothing to ease into
    np.testing.assert_array_equal(feather_sky(painted, painted, nothing, sky, np.ones((H, W), bool)), painted)
    # where the network did not paint the remembered sky there is no difference to measure
    np.testing.assert_array_equal(feather_sky(shown, painted, seen, sky, ~remembered), shown)
