"""The painter as a frame generator: each frame runs the same six stages, in order.

    passes -> see the memory -> paint -> composite -> crisp edges -> remember

1. passes: the blockout's depth and shading at this frame (from Blender, exact),
   and its object ids where anything but the camera moves.
2. see the memory: what was painted before, reprojected into this camera with
   the exact depths, valid where it shows the surface the blockout has here
   (small holes of one surface between valid pixels filled from them), and
   its holes that the previous frame showed (a surface the camera nears
   spreads its remembered points apart) filled from that frame, warped
   exactly (memory.fill_from_previous).
3. paint: the network paints the new ground from the passes, the notes in
   force and the memory (it sees the memory, so new ground matches it), on
   boxes around the memory's holes with context (painter/regions.py), or the
   whole frame when they would cover most of it. New ground beside a
   silhouette that stage 5 draws again from its own surface (the sliver a
   parallax uncovers) is left to stage 5. A frame with nothing else new (a
   held camera, a still live view) does not run the network: the frame is
   the memory, exactly what the composite would show. Where the passes can be
   drawn past the frame (Go Live's, and a take's where only the camera moves
   and the blockout's triangles came with its passes), a box of new ground
   along a border reaches
   past it, and stage 6 keeps what it painted there (painter/ahead.py).
4. composite: where the memory is valid it is kept as it was (a revisit gives
   the same picture); elsewhere the painted pixels are the frame, new sky
   eased into the remembered sky beside it over a few pixels, so a pan's
   strips leave softer seams down the sky (painter/seams.py).
5. crisp edges: on new ground, each side of the blockout's silhouettes takes
   the colour the frame shows on its own surface beside it (painter/edges.py):
   the memory's where the memory shows, so a strip of wall revealed beside a
   moving object takes the wall's remembered colour, not the object's smear.
6. remember: the new pixels join the memory, and those painted ahead, finished
   as the frame is (`finish`).

A shot larger than the native size (384x216 in area) runs the six stages at
that size and is brought up to its own guided by its full-size depth, so the
object edges are the blockout's (painter/native.py).

A look frame (the shot's `first_rgb`) is the memory's anchor: frame 0 shows it
where the blockout agrees, and the shot carries it through. A notes event
starts a new look: from its frame the memory is emptied and painted again
under the new notes. `use_memory=False` is the per-frame baseline (what
per-frame depth ControlNet add-ons do): the same network, no memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model_runtime.models.interface import FrameGenerator, GeneratorInputError, Session, ShotInput
from model_runtime.painter import checkpoint
from model_runtime.painter.ahead import Ahead, reach, widen, widened
from model_runtime.painter.edges import Silhouettes
from model_runtime.painter.features import box_features, camera
from model_runtime.painter.memory import Memory, MemoryView, PreviousFrame, empty_view, fill_from_previous
from model_runtime.painter.native import (NATIVE_PIXELS, downsample_passes, downsample_rgb, guided_upsample,
                                          native_size, scaled_frame)
from model_runtime.painter.network import PainterNet
from model_runtime.painter.passes import FramePasses
from model_runtime.painter.regions import box_margins, paint_boxes
from model_runtime.painter.seams import feather_sky
from model_runtime.world.process import keep_freed_memory

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "oyster-painter.safetensors"
MAX_MEMORY_POINTS = 2_000_000  # ~24 full 384x216 frames of new ground; 48 MB
EDGE_MARGIN = 8  # pixels of reflected features around the frame (pad_to)


@dataclass
class PainterState:
    """What a snapshot holds: the next frame's index, the memory (anchor first; colours R, G, B, object id) and
    the frame shown last (None before the first frame and after a notes event)."""

    index: int
    points: np.ndarray
    colors: np.ndarray
    n_anchor: int
    notes: str
    previous: PreviousFrame | None


def pad_to(features: np.ndarray, margins: tuple[int, int, int, int] = (EDGE_MARGIN,) * 4) -> np.ndarray:
    """Reflect-pad (C, H, W) by `margins` (top, bottom, left, right), then on the bottom and right to the
    network's multiple (`PainterNet.input_length`).

    The margin keeps the convolutions' zero padding out of the frame: without it the outermost pixels
    come out greyed, and a panning camera freezes that grey edge into the memory strip by strip."""
    _, h, w = features.shape
    top, bottom, left, right = margins
    ph = PainterNet.input_length(h, top, bottom) - h - top - bottom
    pw = PainterNet.input_length(w, left, right) - w - left - right
    return np.pad(features, ((0, 0), (top, bottom + ph), (left, right + pw)), mode="reflect")


class PainterModel(FrameGenerator):
    def __init__(self, path: Path = DEFAULT_CHECKPOINT, name: str = "oyster-painter", use_memory: bool = True,
                 device: str | torch.device = "cpu", max_memory_points: int = MAX_MEMORY_POINTS,
                 native_pixels: int = NATIVE_PIXELS, new_ground_only: bool = True):
        """`device`: where the weights and each frame's features live (only the painted frame comes back);
        float32 everywhere. `max_memory_points`: the bound of a session's memory ring. `native_pixels`: shots
        larger than this are painted at this area and brought up guided by their depth (painter/native.py).
        `new_ground_only`: the network runs on boxes around the memory's holes (painter/regions.py), not on
        the whole frame (False: the whole frame, the baseline the bench times it against)."""
        keep_freed_memory()  # a frame's memory view allocates and frees tens of MB: keep them mapped (3 ms a frame)
        self.device = torch.device(device)
        self.net, self.record = checkpoint.load(path)
        # channels-last on the CPU: oneDNN's convolutions then take the activations as they are (a 48x48 box
        # 5.8 -> 4.2 ms, the whole frame 80 -> 64; docs/decisions.md); not measured on a GPU
        self._layout = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.net.to(self.device, memory_format=self._layout)
        self.name, self.use_memory, self.max_memory_points = name, use_memory, max_memory_points
        self.native_pixels, self.new_ground_only = native_pixels, new_ground_only
        self.checkpoint_sha256 = checkpoint.file_sha256(path)
        self._films: dict[str, torch.Tensor] = {}

    def films(self, notes: str) -> torch.Tensor:
        """The network's scales and shifts for `notes` (`PainterNet.films` of their embedding), once per notes."""
        if notes not in self._films:
            from model_runtime.world.text import embed_notes

            with torch.no_grad():
                self._films[notes] = self.net.films(torch.from_numpy(embed_notes([notes])).to(self.device))
        return self._films[notes]

    def start(self, shot: ShotInput) -> "PainterSession":
        if shot.passes is None:
            raise GeneratorInputError("the painter paints over the blockout's passes and this shot has none: "
                                      "render them from the scene (Start from Blockout) or build a world from "
                                      "the notes first")
        if len(shot.passes) != len(shot.track["frames"]):
            raise GeneratorInputError(f"{len(shot.passes)} frames of passes for a track of "
                                      f"{len(shot.track['frames'])} frames")
        if not shot.notes_at(shot.track["frames"][0]["frame"]).strip():
            raise GeneratorInputError("the painter needs scene notes: they set the look")
        return PainterSession(self, shot)

    @torch.no_grad()
    def paint(self, passes: FramePasses, frame: dict, seen: MemoryView, new: np.ndarray, notes: str,
              noise_seed: list[int]) -> tuple[np.ndarray, np.ndarray, Ahead | None]:
        """Stage 3: the network's picture of the frame, float32 (H, W, 3) in [0, 1]: of the pixels `new` (H, W)
        bool and the context around them (zeros elsewhere), or of the whole frame; where it painted, (H, W)
        bool; and what it painted past the frame's borders where the passes can be drawn there (painter/ahead.py),
        else None."""
        h, w = passes.depth.shape
        noise = np.random.default_rng(noise_seed).standard_normal((h, w)).astype(np.float32)
        boxes = paint_boxes(new, EDGE_MARGIN) if self.new_ground_only else [(0, h, 0, w)]
        reaches = passes.beyond is not None and self.use_memory and boxes != [(0, h, 0, w)]  # painter/ahead.py
        sides = reach(new) if reaches else (0, 0, 0, 0)
        wide = widen(passes, frame, seen, noise, sides, noise_seed) if any(sides) else None
        if wide is not None:
            boxes = [widened(box, sides, h, w) for box in boxes]
            passes, frame, seen, noise = wide.passes, wide.frame, wide.seen, wide.noise
        height, width = passes.depth.shape
        painted, where = np.zeros((height, width, 3), np.float32), np.zeros((height, width), bool)
        for y0, y1, x0, x1 in boxes:
            features = box_features(passes.shade, passes.depth, frame, seen.rgb, seen.shown, noise,
                                    self.net.config.basis_frequencies, (y0, y1, x0, x1))
            margins = box_margins((y0, y1, x0, x1), height, width, EDGE_MARGIN)
            x = torch.from_numpy(pad_to(features, margins))[None].to(self.device, memory_format=self._layout)
            top, left = margins[0], margins[2]
            rgb = self.net(x, films=self.films(notes))[0, :, top:top + y1 - y0, left:left + x1 - x0]
            painted[y0:y1, x0:x1] = rgb.permute(1, 2, 0).cpu().numpy()
            where[y0:y1, x0:x1] = True
        if wide is None:
            return painted, where, None
        return painted[wide.inside], where[wide.inside], Ahead(wide, painted, where)


def composite(painted: np.ndarray, seen: MemoryView) -> np.ndarray:
    """Stage 4: the memory where it shows (valid, or a speck filled from it), the painted pixels elsewhere;
    float32 (H, W, 3) in [0, 1]."""
    return np.where(seen.shown[..., None], seen.rgb, painted)


def finish(painted: np.ndarray, where: np.ndarray, seen: MemoryView, depth: np.ndarray,
           silhouettes: Silhouettes) -> np.ndarray:
    """Stages 4 and 5 (H, W, 3) float32 in [0, 1]: composite, new sky eased into the memory's, crisp edges."""
    shown = feather_sky(composite(painted, seen), painted, seen, depth, where)
    return silhouettes.crisp(shown)


class PainterSession(Session):
    def __init__(self, model: PainterModel, shot: ShotInput):
        self.model, self.shot = model, shot
        self.memory = Memory(model.max_memory_points)
        self._previous: PreviousFrame | None = None
        self._index = 0
        self._notes = shot.notes_at(shot.track["frames"][0]["frame"])
        first = shot.passes.frame(0)
        self.size = first.depth.shape[1], first.depth.shape[0]
        self.native = native_size(*self.size, model.native_pixels)
        if shot.first_rgb is not None:
            if shot.first_rgb.shape != (*first.depth.shape, 3):
                raise GeneratorInputError(f"the look frame is {shot.first_rgb.shape[1]}x{shot.first_rgb.shape[0]}, "
                                          f"the shot {first.depth.shape[1]}x{first.depth.shape[0]}")
            frame, passes = self._native(shot.track["frames"][0], first)
            K, c2w = camera(frame)
            look = downsample_rgb(shot.first_rgb, self.native) if self.native != self.size else shot.first_rgb
            self.memory.add(look.astype(np.float32) / 255, passes.depth, K, c2w, anchor=True, objects=passes.object)

    def _native(self, frame: dict, passes: FramePasses) -> tuple[dict, FramePasses]:
        """The frame's camera and passes at the native size (themselves when the shot is no larger)."""
        if self.native == self.size:
            return frame, passes
        return scaled_frame(frame, *self.size, self.native), downsample_passes(passes, self.native)

    @property
    def frame_index(self) -> int:
        return self._index

    def step(self) -> np.ndarray:
        frames = self.shot.track["frames"]
        if self._index >= len(frames):
            raise IndexError("the shot has no more frames")
        frame = frames[self._index]
        notes = self.shot.notes_at(frame["frame"])
        if notes != self._notes:  # a notes event: a new look from here on
            self.memory.clear()
            self._previous = None
            self._notes = notes
        full = self.shot.passes.frame(self._index)                            # 1. passes
        frame, passes = self._native(frame, full)
        K, c2w = camera(frame)
        h, w = passes.depth.shape
        seen = self.memory.view(K, c2w, passes.depth, passes.object) if self.model.use_memory \
            else empty_view(w, h)                                              # 2. see the memory
        if self._previous is not None:                                         #    and the last frame
            seen = fill_from_previous(seen, passes.depth, passes.object, K, c2w, self._previous)
        silhouettes = Silhouettes(passes.depth, redraw=~seen.valid)
        new = ~seen.shown & ~silhouettes.drawn                                 # stage 5 draws those
        painted, where, ahead = self.model.paint(passes, frame, seen, new, notes, [self.shot.seed, self._index]) \
            if new.any() else (seen.rgb, np.zeros((h, w), bool), None)         # 3. paint
        shown = finish(painted, where, seen, passes.depth, silhouettes)       # 4. composite, new sky eased into
                                                                               #    the memory's, 5. crisp edges
        rgb = np.round(np.clip(shown, 0, 1) * 255).astype(np.uint8)
        if self.model.use_memory:                                              # 6. remember
            self.memory.add(rgb.astype(np.float32) / 255, passes.depth, K, c2w, mask=~seen.valid,
                            objects=passes.object)
            if ahead is not None:                                              #    and what was painted ahead
                wide = ahead.wide
                rim = finish(ahead.painted, ahead.where, wide.seen, wide.passes.depth,
                             Silhouettes(wide.passes.depth, redraw=~wide.seen.valid))
                self.memory.add(**ahead.remembered(rim))
            self._previous = PreviousFrame(rgb, passes.depth, passes.object, K, c2w)
        self._index += 1
        return guided_upsample(rgb, passes.depth, full.depth)                  # at the shot's size

    def snapshot(self) -> PainterState:
        points, colors, n_anchor = self.memory.state()
        return PainterState(self._index, points, colors, n_anchor, self._notes, self._previous)

    def restore(self, state: PainterState) -> None:
        self._index, self._notes, self._previous = state.index, state.notes, state.previous
        self.memory.set_state((state.points, state.colors, state.n_anchor))
