"""Image metrics on uint8 RGB frames.

PSNR = 10 log10(255^2 / MSE), capped at PSNR_CAP dB so identical frames give a
finite, comparable number. SSIM after Wang et al. 2004 ("Image quality assessment:
from error visibility to structural similarity"): Gaussian window sigma 1.5 (11x11),
K1 = 0.01, K2 = 0.03, on each RGB channel, averaged.
"""
from __future__ import annotations

import cv2
import numpy as np

PSNR_CAP = 60.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 frames: 10 log10(255^2 / MSE), PSNR_CAP for identical frames (MSE = 0)."""
    if a.shape != b.shape:
        raise ValueError(f"frames differ in shape: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * np.log10(255.0 ** 2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004, eq. 13) over pixels and channels of two uint8 frames.

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = 255, local statistics under a Gaussian window
    (sigma 1.5, 11x11) with reflected borders. 1 for identical frames.
    """
    if a.shape != b.shape:
        raise ValueError(f"frames differ in shape: {a.shape} vs {b.shape}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x, y = a.astype(np.float64), b.astype(np.float64)

    def blur(img: np.ndarray) -> np.ndarray:
        """Gaussian-weighted local mean (the SSIM window)."""
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(ssim_map.mean())
