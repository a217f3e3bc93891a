"""The world model as a FrameGenerator: start a shot, step it frame by frame, snapshot and restore.

Per frame: render the 3D cache through the commanded camera, denoise the frame's
latent tokens with a few Euler steps of the flow conditioned on that render, the
camera and the notes (attending to earlier frames through the KV cache), decode
RGB and depth, composite the cache render where it is valid (its splat cracks
closed from the nearest point, as depth-warp does), add what was new to the cache, then run the finished frame once more as clean context (its keys and
values join the sliding window).

A frame made from the notes alone (a shot's frame 0 without a first frame) is graded to
the notes' look (world/look.py: the colour statistics the look head predicts for the
notes) and encoded again, so the shot and its context start from the graded picture.

A notes event changes the text conditioning from its frame on; but where the cache
covers the view, the picture is the cache's, so the event also re-grades it: the
frames from the event on take the new notes' look (a per-channel gain and offset),
faded in over EVENT_RAMP_FRAMES. The cache keeps the ungraded colours, so a later
event grades the same world again (docs/continuation.md, "Notes events").
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from model_runtime.models.interface import FrameGenerator, GeneratorInputError, Session, ShotInput
from model_runtime.world.cache3d import CacheRender, PointCache, empty_render
from model_runtime.world.checkpoint import file_sha256, load_weights, read_checkpoint
from model_runtime.world.conditioning import (camera_action, check_track_steps, native_intrinsics,
                                              plucker_tokens, token_centres)
from model_runtime.world.flow import time_grid
from model_runtime.world.look import IDENTITY_GRADE, apply_grade, grade_to
from model_runtime.world.model import WorldModel
from model_runtime.world.process import prepare_inference_process
from model_runtime.world.sampler import Velocity, sample_euler
from model_runtime.world.text import embed_notes
from model_runtime.world.transformer import KVWindow, LayerCache

EVENT_RAMP_FRAMES = 8  # a notes event's new look fades in over a third of a second at 24 fps
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "oyster-tiny.safetensors"
# The second lane of a session: a frame's clean pass (its keys and values for the KV window) needs only its
# latent, so it runs here while the first lane decodes the frame and renders and encodes the next one's cache
# view. Two lanes of one thread each beat one lane of two threads on 2 cores: the dynamics' small matrices
# barely speed up with a second thread (docs/world_model.md, 'Inference cost').
_CONTEXT_LANE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oyster-context")


def load_world_model(path: str | Path) -> WorldModel:
    """Rebuild the model from a checkpoint's own config (optimizer tensors of training checkpoints ignored)."""
    config, tensors, _ = read_checkpoint(path)
    model = WorldModel(config)
    load_weights(model, {k: v for k, v in tensors.items() if not k.startswith("optim.")}, Path(path).name)
    return model.for_inference()


def close_cracks(valid: np.ndarray, pixels: int) -> np.ndarray:
    """Rendered pixels plus the cracks a splat leaves when the camera moves closer: holes at most
    2 * pixels + 1 wide with rendered points around them (a morphological closing). Those keep the render's
    nearest-point colour, as depth-warp fills them. Strips along the image border are not cracks (the closing
    sees zeros beyond the border): they are new content, left to the network."""
    if pixels <= 0 or not valid.any():
        return valid
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    dilated = cv2.dilate(valid.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    closed = cv2.erode(dilated, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    return valid | closed


def feather(valid: np.ndarray, pixels: int) -> np.ndarray:
    """Weight (H, W) float32: 1 inside the valid area, falling to 0 over `pixels` towards its edges."""
    weight = valid.astype(np.float32)
    if pixels > 0:
        weight = cv2.blur(weight, (2 * pixels + 1, 2 * pixels + 1)) * weight
    return weight


@dataclass
class _FrameInputs:
    index: int
    text: torch.Tensor                        # (1, 384)
    action: torch.Tensor                      # (1, ACTION_DIM)
    plucker: torch.Tensor                     # (1, N, 6)
    modulations: dict[float, list[torch.Tensor]]  # by flow time: each pass's adaLN modulations


@dataclass
class _State:
    index: int
    kv: list[LayerCache] | None
    n_past: int
    cache: tuple[np.ndarray, np.ndarray]
    rng: torch.Tensor
    grade: tuple[np.ndarray, np.ndarray, int] = (IDENTITY_GRADE, IDENTITY_GRADE, 0)
    """The notes events' colour grade: from, to, and the frame index its ramp starts at."""


class WorldSession(Session):
    def __init__(self, model: WorldModel, shot: ShotInput, context_lane: bool = True):
        """`context_lane`: run each frame's clean pass beside the next frame's work (`_remember`); without
        it, one lane does everything in order (the same frames; `bench-world` compares the two)."""
        self.model, self.shot = model, shot
        self.device = model.latent_mean.device  # the model's: inputs go there, only the finished frame comes back
        self.context_lane = context_lane
        cfg = model.config
        self.width, self.height = cfg.width, cfg.height
        self.track = shot.track
        self.scale = float(self.track.get("scale", 1.0))
        grid_h, grid_w = (s // cfg.dynamics.patch for s in cfg.latent_size)
        self.centres = token_centres(cfg.width, cfg.padded_height, grid_w, grid_h)
        self.centres[:, 1] -= (cfg.padded_height - cfg.height) // 2            # pad rows above the image
        self.cache = PointCache(cfg.cache.max_points)
        self.window = model.dynamics.new_window()
        self._pending: Future | None = None  # the context lane's work for the last frame (`_remember`)
        self._prepared: _FrameInputs | None = None  # the next frame's inputs, made on the context lane
        self._index = 0
        self.generator = torch.Generator().manual_seed(int(shot.seed))
        self.times = time_grid(cfg.sampler.steps)
        self.notes_times = time_grid(cfg.sampler.notes_steps)  # a frame from the notes alone
        self.first = self._native_first_frame()
        self.grade = (IDENTITY_GRADE, IDENTITY_GRADE, 0)

    # ------------------------------------------------------------------ inputs

    def _native_first_frame(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        rgb, depth = self.shot.first_rgb, self.shot.first_depth
        if rgb is None:
            return None
        size = (self.track["height"], self.track["width"])
        if rgb.dtype != np.uint8 or rgb.shape != size + (3,):
            raise GeneratorInputError(f"first frame must be uint8 RGB of {size[1]}x{size[0]} (the shot's "
                                      f"resolution), got {rgb.dtype} {rgb.shape}")
        if depth is not None and depth.shape != size:
            raise GeneratorInputError(f"first-frame depth must be {size[1]}x{size[0]}, got {depth.shape}")
        rgb = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        if depth is not None:
            depth = cv2.resize(depth.astype(np.float32), (self.width, self.height), interpolation=cv2.INTER_NEAREST)
        return rgb, depth

    def _camera(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frame = self.track["frames"][i]
        K = native_intrinsics(frame, self.track["width"], self.track["height"], self.width, self.height)
        return K, np.asarray(frame["c2w"], dtype=np.float64), np.asarray(frame["rel"], dtype=np.float64)

    def _frame_inputs(self, i: int) -> _FrameInputs:
        """Frame i's conditioning: notes, camera action, Plücker rays and the modulations of its passes."""
        K, _, rel = self._camera(i)
        notes = self.shot.notes_at(self.track["frames"][i]["frame"])
        text = torch.from_numpy(embed_notes([notes])).to(self.device)
        action = torch.from_numpy(camera_action(rel, K, self.width, self.height, self.scale))[None].to(self.device)
        plucker = torch.from_numpy(plucker_tokens(rel, K, self.centres, self.scale))[None].to(self.device)
        return _FrameInputs(i, text, action, plucker, self._pass_modulations(text, action))

    def _grade_at(self, i: int) -> np.ndarray:
        """The colour grade in force at frame index i (the ramp of the latest event, if any)."""
        start_grade, end_grade, start = self.grade
        ramp = min(1.0, (i - start + 1) / EVENT_RAMP_FRAMES)
        return (1.0 - ramp) * start_grade + ramp * end_grade

    def _notes_change_at(self, i: int) -> bool:
        frames = self.track["frames"]
        return i > 0 and self.shot.notes_at(frames[i]["frame"]) != self.shot.notes_at(frames[i - 1]["frame"])

    def _notes_look(self, text: torch.Tensor) -> np.ndarray:
        """The look head's colour statistics (6,) of these notes (world/look.py)."""
        return self.model.look(text)[0].cpu().numpy()

    def _notes_passes(self, text: torch.Tensor, action: torch.Tensor
                      ) -> tuple[dict[float, list[torch.Tensor]], dict[float, list[torch.Tensor]] | None]:
        """(guided, unguided) modulations of a frame made from the notes alone, at the sampler's notes times;
        unguided is None without guidance."""
        guided = self._pass_modulations(text, action, self.notes_times)
        if self.model.config.sampler.guidance == 1.0:
            return guided, None
        return guided, self._pass_modulations(torch.zeros_like(text), action, self.notes_times)

    def _velocity(self, cache_tok: torch.Tensor, valid_tok: torch.Tensor, plucker: torch.Tensor,
                  guided: dict[float, list[torch.Tensor]], unguided: dict[float, list[torch.Tensor]] | None,
                  window: KVWindow) -> Velocity:
        """The sampler's velocity of one frame against `window`: with `unguided`, classifier-free guidance
        (Ho & Salimans 2022), where nothing but the notes says what to show."""
        dyn, guidance = self.model.dynamics, self.model.config.sampler.guidance

        def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
            tokens = dyn.embed_tokens(x, cache_tok, valid_tok, plucker)
            v = dyn.step(tokens, guided[t], window)
            if unguided is None:
                return v
            v_null = dyn.step(tokens, unguided[t], window)
            return v_null + guidance * (v - v_null)
        return velocity

    def _pass_modulations(self, text: torch.Tensor, action: torch.Tensor, grid: torch.Tensor | None = None
                          ) -> dict[float, list[torch.Tensor]]:
        """The adaLN modulations of the frame's passes (each time of the sampler's `grid`, by default the
        frames' own, then the clean pass at t = 1) by time, computed for all passes at once
        (`LatentDynamics.modulations`)."""
        dyn = self.model.dynamics
        times = [float(t) for t in (self.times if grid is None else grid)[:-1]] + [1.0]
        n = len(times)
        cond = dyn.frame_condition(torch.tensor(times, device=self.device), text.expand(n, -1),
                                   action.expand(n, -1))  # (passes, d)
        modulations = dyn.modulations(cond[:, None])                                             # (passes, 1, *)
        return {t: [m[i:i + 1] for m in modulations] for i, t in enumerate(times)}

    # ------------------------------------------------------------------ stepping

    @property
    def frame_index(self) -> int:
        return self._index

    @torch.no_grad()
    def step(self) -> np.ndarray:
        i = self._index
        if i >= len(self.track["frames"]):
            raise IndexError("the shot has no more frames")
        K, c2w, _ = self._camera(i)
        model = self.model
        if i == 0 and self.first is not None:
            rgb, depth = self.first
            cache_tok, valid_tok = self._render_tokens(empty_render(self.width, self.height))
            known = depth if depth is not None else np.full(rgb.shape[:2], np.inf, np.float32)
            latent = model.patchify(model.encode_frames(torch.from_numpy(rgb)[None].to(self.device),
                                                        torch.from_numpy(known)[None].to(self.device)))
            self._remember(latent, cache_tok, valid_tok, self._inputs_ready(i))
            if depth is not None:
                self.cache.add(rgb, depth, K, c2w, anchor=True)
            final = rgb
        else:
            render = self.cache.render(K, c2w, self.width, self.height) if len(self.cache) else \
                empty_render(self.width, self.height)
            cache_tok, valid_tok = self._render_tokens(render)
            noise = torch.randn((1, model.config.tokens_per_frame, model.token_dim),  # drawn on the CPU's generator
                                generator=self.generator).to(self.device)
            inputs = self._inputs_ready(i)
            from_notes = not render.valid.any()
            if from_notes:
                times, passes = self.notes_times, self._notes_passes(inputs.text, inputs.action)
            else:
                times, passes = self.times, (inputs.modulations, None)
            velocity = self._velocity(cache_tok, valid_tok, inputs.plucker, *passes, self.window)
            latent = sample_euler(velocity, noise, times)
            if from_notes:  # graded to the notes' look, and the context holds the graded picture
                gen_rgb, gen_depth = self._decode(latent)
                gen_rgb = apply_grade(gen_rgb, grade_to(gen_rgb, self._notes_look(inputs.text))).clip(0.0, 1.0)
                latent = model.patchify(model.encode_frames(torch.from_numpy(gen_rgb)[None].to(self.device),
                                                            torch.from_numpy(gen_depth)[None].to(self.device)))
                self._remember(latent, cache_tok, valid_tok, inputs)
            else:
                self._remember(latent, cache_tok, valid_tok, inputs)
                gen_rgb, gen_depth = self._decode(latent)
            covered = close_cracks(render.valid, model.config.cache.crack)
            weight = feather(covered, model.config.cache.feather)[..., None]
            share = 1.0 if from_notes else model.config.cache.network_share
            new = share * gen_rgb + (1.0 - share) * render.rgb
            final = weight * render.rgb + (1.0 - weight) * new
            self.cache.add(final, gen_depth, K, c2w, mask=~covered, anchor=i == 0)
            if self._notes_change_at(i):
                self.grade = (self._grade_at(i - 1), grade_to(final, self._notes_look(inputs.text)), i)
        self._index += 1
        return self._to_output(apply_grade(final, self._grade_at(i)))

    def _remember(self, latent: torch.Tensor, cache_tok: torch.Tensor, valid_tok: torch.Tensor,
                  inputs: _FrameInputs) -> None:
        """Start, on the context lane, the finished frame's clean pass (its keys and values join the KV window),
        then the next frame's conditioning. They run beside this frame's decode and composite and the next
        frame's cache render and encode; the next frame's sampler waits for them (`_inputs_ready`)."""
        dyn, following = self.model.dynamics, inputs.index + 1

        def clean_pass_and_next_inputs() -> _FrameInputs | None:
            with torch.no_grad():  # grad mode is per thread
                tokens = dyn.embed_tokens(latent, cache_tok, valid_tok, inputs.plucker)
                dyn.remember(tokens, inputs.modulations[1.0], self.window)
                return self._frame_inputs(following) if following < len(self.track["frames"]) else None

        if self.context_lane:
            self._pending = _CONTEXT_LANE.submit(clean_pass_and_next_inputs)
        else:
            self._prepared = clean_pass_and_next_inputs()

    def _context_ready(self) -> None:
        """Wait for the context lane's work, if any (an error there is raised here)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._prepared = pending.result()

    def _inputs_ready(self, i: int) -> _FrameInputs:
        """Frame i's inputs, once the KV window holds every frame before it."""
        self._context_ready()
        prepared, self._prepared = self._prepared, None
        return prepared if prepared is not None and prepared.index == i else self._frame_inputs(i)

    def _decode(self, latent: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Latent tokens (1, N, P) -> RGB (H, W, 3) in [0, 1] and depth (H, W) in metres."""
        rgb, depth = self.model.decode_frames(self.model.unpatchify(latent))
        return rgb[0].cpu().numpy(), depth[0].cpu().numpy()

    def _render_tokens(self, render: CacheRender) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.cache_tokens(*(torch.from_numpy(a)[None].to(self.device)
                                         for a in (render.rgb, render.depth, render.valid)))

    def _to_output(self, rgb: np.ndarray) -> np.ndarray:
        out = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        size = (self.track["width"], self.track["height"])
        if size == (self.width, self.height):
            return out
        shrink = size[0] < self.width
        return cv2.resize(out, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    # ------------------------------------------------------------------ state

    def snapshot(self) -> _State:
        self._context_ready()
        return _State(self._index, self.window.layers() if self.window.frames else None, self.window.frames,
                      self.cache.state(), self.generator.get_state(), self.grade)

    def restore(self, state: _State) -> None:
        self._context_ready()
        self._index = state.index
        self.window.load(state.kv)
        self.cache.set_state(state.cache)
        self.generator.set_state(state.rng)
        self.grade = state.grade


class OysterWorldModel(FrameGenerator):
    """The trained world model behind the FrameGenerator interface."""

    def __init__(self, checkpoint: str | Path = DEFAULT_CHECKPOINT, name: str = "oyster-tiny",
                 device: str | torch.device = "cpu"):
        """`device`: where the weights and each frame's tensors live (float32; the cache and the camera
        conditioning are numpy on the CPU, the finished frame comes back)."""
        self.name = name
        self.checkpoint = Path(checkpoint)
        self.device = torch.device(device)
        prepare_inference_process()
        self.model = load_world_model(self.checkpoint).to(self.device)
        self.checkpoint_sha256 = file_sha256(self.checkpoint)

    def start(self, shot: ShotInput) -> WorldSession:
        if not shot.notes.strip():
            raise GeneratorInputError("scene notes are empty: the world model needs notes to know what to show")
        empty = [frame for frame, notes in shot.notes_events if not notes.strip()]
        if empty:
            raise GeneratorInputError(f"the notes event at frame {empty[0]} has empty notes: the world model needs "
                                      f"notes to know what to show from there on")
        try:
            check_track_steps(shot.track)
        except ValueError as error:
            raise GeneratorInputError(str(error)) from error
        return WorldSession(self.model, shot)
