"""The notes probe: a small CNN trained on ground-truth frames to read the scene labels back.

Applied to generated frames, its accuracy says whether the picture shows what the
notes asked for (time of day, weather, setting); its accuracy on ground-truth
validation frames is the reference. Trained once on the TRAINING split (4 frames
of every clip, seed 0, 600 AdamW steps of batch 64 with random mirroring, summed
cross-entropy of the three heads), stored as safetensors with its label
vocabularies and the number of training clips in the metadata.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from model_runtime.data.layout import SETTINGS, TIMES_OF_DAY, WEATHERS
from model_runtime.data.shards import Clip

LABELS = {"time_of_day": TIMES_OF_DAY, "weather": WEATHERS, "setting": SETTINGS}
INPUT_SIZE = (96, 54)  # width, height: enough for colour and layout, cheap on a CPU


class ProbeNet(nn.Module):
    """Three stride-2 convolutions, a 2x3 average pool and one linear head per label kind."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d((2, 3)), nn.Flatten())
        self.heads = nn.ModuleDict({k: nn.Linear(64 * 6, len(v)) for k, v in LABELS.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(x)
        return {k: head(h) for k, head in self.heads.items()}


def to_input(frames: list[np.ndarray]) -> torch.Tensor:
    """uint8 (H, W, 3) frames of any size -> (B, 3, 54, 96) in [0, 1]."""
    small = [cv2.resize(f, INPUT_SIZE, interpolation=cv2.INTER_AREA) for f in frames]
    return torch.from_numpy(np.stack(small)).permute(0, 3, 1, 2).float() / 255.0


def label_targets(clips_labels: list[dict]) -> dict[str, torch.Tensor]:
    """Class indices (into LABELS' vocabularies) of each frame's labels, per label kind."""
    return {k: torch.tensor([v.index(lab[k]) for lab in clips_labels]) for k, v in LABELS.items()}


def train_probe(clips: list[Clip], path: Path, steps: int = 600, seed: int = 0, batch: int = 64) -> ProbeNet:
    """Train on a few frames of every training clip; save to `path` (safetensors)."""
    if not clips:
        raise ValueError("the notes probe needs training clips (none given)")
    torch.manual_seed(seed)
    frames, labels = [], []
    for clip in clips:
        for i in range(0, len(clip.rgb), max(1, len(clip.rgb) // 4)):
            frames.append(clip.rgb[i])
            labels.append(clip.labels)
    x, y = to_input(frames), label_targets(labels)
    net = ProbeNet()
    optimizer = torch.optim.AdamW(net.parameters(), lr=2e-3)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = torch.from_numpy(rng.integers(len(x), size=batch))
        inputs = x[idx]
        if rng.random() < 0.5:
            inputs = inputs.flip(3)  # mirror: labels do not depend on left and right
        out = net(inputs)
        loss = sum(F.cross_entropy(out[k], y[k][idx]) for k in LABELS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(net.state_dict(), str(path), metadata={"labels": json.dumps(LABELS), "train_clips": str(len(clips)),
                                                     "train_frames": str(len(frames))})
    return net.eval()


def load_probe(path: Path) -> ProbeNet:
    """A probe saved by train_probe; refuses one trained on other label vocabularies."""
    with safe_open(str(path), framework="pt") as f:
        labels = json.loads((f.metadata() or {}).get("labels", "null"))
    if labels != {k: list(v) for k, v in LABELS.items()}:
        raise ValueError(f"{path}: probe labels {labels} differ from the data's {LABELS}; retrain it")
    net = ProbeNet()
    net.load_state_dict(load_file(str(path)))
    return net.eval()


def probe_train_clips(path: Path) -> int:
    """How many training clips the probe at `path` was trained on (from its metadata)."""
    with safe_open(str(path), framework="pt") as f:
        return int((f.metadata() or {}).get("train_clips", 0))


def file_sha256(path: Path) -> str:
    """sha256 of a file (reports name the exact probe they used)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@torch.no_grad()
def probe_accuracy(net: ProbeNet, frames: list[np.ndarray], labels: list[dict]) -> dict[str, float]:
    """Share of frames whose predicted label matches, per label kind and on average."""
    out = net(to_input(frames))
    y = label_targets(labels)
    acc = {k: float((out[k].argmax(1) == y[k]).float().mean()) for k in LABELS}
    acc["mean"] = float(np.mean([acc[k] for k in LABELS]))
    return acc
