"""The README's painter picture: a take's blockout shading above its painted frames.

    python -m examples.painter_picture --take oyster_demo/oyster/example/take_001 --out docs/images/painter.jpg
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

COLUMNS = 4


def picture(take: Path) -> np.ndarray:
    frames = sorted(take.glob("[0-9]*.png"))
    if not frames:
        raise SystemExit(f"{take} holds no frames")
    picks = [frames[round(i * (len(frames) - 1) / (COLUMNS - 1))] for i in range(COLUMNS)]
    painted = [cv2.imread(str(p)) for p in picks]
    shading = [cv2.imread(str(take / "inputs" / "passes" / f"shade_{p.stem}.png")) for p in picks]
    if any(s is None for s in shading):
        raise SystemExit(f"{take} keeps no blockout passes (inputs/passes/)")
    return np.concatenate([np.concatenate(shading, 1), np.concatenate(painted, 1)], 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--take", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not cv2.imwrite(str(args.out), picture(args.take), [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise SystemExit(f"cannot write {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
