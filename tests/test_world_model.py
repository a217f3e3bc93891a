"""World model: shapes, causality, KV-cache equivalence, sessions, checkpoints and bad input (micro config)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from model_runtime.models.geometry import BLOCK, block_bounds
from model_runtime.models.interface import GeneratorInputError, ShotInput
from model_runtime.world.checkpoint import CheckpointError, export_weights, read_checkpoint, save_checkpoint
from model_runtime.world.config import ConfigError, WorldConfig, preset
from model_runtime.world.cache3d import PointCache
from model_runtime.world.generator import EVENT_RAMP_FRAMES, OysterWorldModel, WorldSession, close_cracks, load_world_model
from model_runtime.world.look import apply_grade, frame_looks, grade_to
from model_runtime.world.model import WorldModel


def micro_model(seed: int = 0) -> WorldModel:
    torch.manual_seed(seed)
    model = WorldModel(preset("micro")).eval()
    for p in model.dynamics.parameters():  # adaLN-Zero starts as identity: give every path some signal
        torch.nn.init.normal_(p, std=0.05)
    return model


def orbit_track(n: int = 10, width: int = 64, height: int = 36, step_deg: float = 2.0) -> dict:
    frames, prev = [], None
    for i in range(n):
        a = np.radians(step_deg * i)
        R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        c2w = np.eye(4)
        c2w[:3, :3] = R
        c2w[:3, 3] = [0.05 * i, 0, 0]
        rel = np.eye(4) if prev is None else np.linalg.inv(prev) @ c2w
        frames.append({"frame": 1 + i, "c2w": c2w.tolist(), "fx": 50.0, "fy": 50.0, "cx": width / 2,
                       "cy": height / 2, "rel": rel.tolist()})
        prev = c2w
    return {"version": 1, "width": width, "height": height, "fps": 24.0, "frame_start": 1, "frame_end": n,
            "scale": 1.0, "frames": frames}


def first_frame(width: int = 64, height: int = 36) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    depth = np.full((height, width), 5.0, np.float32)
    depth[:8] = np.inf  # sky
    return rgb, depth


def test_shapes_and_round_trip_of_tokens():
    model = micro_model()
    cfg = model.config
    rgb, depth = torch.rand(2, cfg.height, cfg.width, 3), torch.full((2, cfg.height, cfg.width), 4.0)
    z = model.encode_frames(rgb, depth)
    assert z.shape == (2, cfg.autoencoder.latent_channels, *cfg.latent_size)
    tokens = model.patchify(z)
    assert tokens.shape == (2, cfg.tokens_per_frame, model.token_dim)
    assert torch.equal(model.unpatchify(tokens), z)
    out_rgb, out_depth = model.decode_frames(z)
    assert out_rgb.shape == (2, cfg.height, cfg.width, 3) and out_depth.shape == (2, cfg.height, cfg.width)


def test_channels_last_autoencoder_of_inference_equals_the_plain_layout():
    plain = micro_model()
    fast = micro_model().for_inference()
    assert fast.autoencoder.stem.weight.is_contiguous(memory_format=torch.channels_last) and not fast.training
    cfg = plain.config
    g = torch.Generator().manual_seed(2)
    rgb = torch.rand((2, cfg.height, cfg.width, 3), generator=g)
    depth = 1.0 + 9.0 * torch.rand((2, cfg.height, cfg.width), generator=g)
    with torch.no_grad():
        z, z_fast = plain.encode_frames(rgb, depth), fast.encode_frames(rgb, depth)
        assert torch.allclose(z_fast, z, atol=1e-5)
        decoded, decoded_fast = plain.autoencoder.decode(z), fast.autoencoder.decode(z)  # RGB and inverse depth
        assert decoded_fast.is_contiguous(memory_format=torch.channels_last)
        assert torch.allclose(decoded_fast, decoded, atol=1e-5)


def _sequence(model: WorldModel, T: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    n, d = model.config.tokens_per_frame, model.config.dynamics.d_model
    tokens = torch.randn((1, T, n, d), generator=g)
    cond = torch.randn((1, T, d), generator=g)
    return tokens, cond


def test_changing_frame_t_never_changes_earlier_frames():
    model = micro_model()
    tokens, cond = _sequence(model, 5)
    with torch.no_grad():
        base = model.dynamics(tokens, cond)
        changed = tokens.clone()
        changed[:, 3] += 1.0
        cond2 = cond.clone()
        cond2[:, 3] += 1.0
        out = model.dynamics(changed, cond2)
    assert torch.allclose(out[:, :3], base[:, :3], atol=1e-6)
    assert not torch.allclose(out[:, 3:], base[:, 3:], atol=1e-3)


def test_kv_cached_steps_equal_the_parallel_forward():
    """Frame by frame through the sliding KV window, past the point where it is full and frames leave it."""
    model = micro_model()
    dyn, window_frames = model.dynamics, model.config.dynamics.window
    T = 2 * window_frames + 3
    tokens, cond = _sequence(model, T)
    with torch.no_grad():
        parallel = dyn(tokens, cond)
        window = dyn.new_window()
        for t in range(T):
            modulations = dyn.modulations(cond[:, t:t + 1])
            assert torch.allclose(dyn.step(tokens[:, t], modulations, window), parallel[:, t], atol=1e-5), t
            dyn.remember(tokens[:, t], modulations, window)
            assert window.frames == min(t + 1, window_frames)


def test_remember_keeps_the_keys_of_a_full_pass_and_slides_the_window():
    """The clean pass skips the last block's attention and MLP and the head; its keys and values are exactly
    those a full pass computes, and a full window drops its oldest frame."""
    model = micro_model()
    dyn, n, window_frames = model.dynamics, model.config.tokens_per_frame, model.config.dynamics.window
    tokens, cond = _sequence(model, window_frames + 1)
    with torch.no_grad():
        window = dyn.new_window()
        for t in range(window_frames):
            dyn.remember(tokens[:, t], dyn.modulations(cond[:, t:t + 1]), window)
        before = window.layers()
        modulations = dyn.modulations(cond[:, -1:])
        dyn.step(tokens[:, -1], modulations, window)              # a full pass leaves its keys in the slot
        window.commit()
        full_pass = window.layers()
        window.load(before)
        dyn.remember(tokens[:, -1], modulations, window)
    after = window.layers()
    assert window.frames == window_frames
    for old, new, full in zip(before, after, full_pass):
        assert torch.equal(new.k[:, :, :-n], old.k[:, :, n:]) and torch.equal(new.v[:, :, :-n], old.v[:, :, n:])
        assert torch.equal(new.k, full.k) and torch.equal(new.v, full.v)


def test_modulations_of_all_passes_at_once_equal_one_pass_at_a_time():
    model = micro_model()
    dyn = model.dynamics
    g = torch.Generator().manual_seed(0)
    text, action = torch.randn((1, 384), generator=g), torch.randn((1, 16), generator=g)
    times = torch.tensor([0.0, 0.5, 1.0])
    with torch.no_grad():
        together = dyn.modulations(dyn.frame_condition(times, text.expand(3, -1), action.expand(3, -1))[:, None])
        for i, t in enumerate(times):
            alone = dyn.modulations(dyn.frame_condition(t[None], text, action)[:, None])
            for a, b in zip(together, alone):
                assert torch.allclose(a[i:i + 1], b, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def micro_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "micro.safetensors"
    model = micro_model()
    save_checkpoint(path, model.config, model.state_dict())
    return path


def test_checkpoint_round_trip(micro_checkpoint):
    loaded = load_world_model(micro_checkpoint)
    reference = micro_model()
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_bad_checkpoints_say_what_is_wrong(micro_checkpoint, tmp_path):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(micro_checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        load_world_model(truncated)
    pickle_like = tmp_path / "model.pt"
    pickle_like.write_bytes(b"\x80\x04\x95 not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_world_model(pickle_like)
    config, tensors, _ = read_checkpoint(micro_checkpoint)
    other_version = tmp_path / "v99.safetensors"
    save_checkpoint(other_version, config, tensors, {"format_version": "99"})
    with pytest.raises(CheckpointError, match="format version '99'"):
        load_world_model(other_version)
    other_config = tmp_path / "other.safetensors"
    bigger = WorldConfig.from_dict({**config.to_dict(), "dynamics": {**config.to_dict()["dynamics"], "d_model": 64}})
    save_checkpoint(other_config, bigger, tensors)
    with pytest.raises(CheckpointError, match="does not fit its config"):
        load_world_model(other_config)
    without_look = tmp_path / "before-look.safetensors"
    save_checkpoint(without_look, config, {k: v for k, v in tensors.items() if not k.startswith("look.")})
    with pytest.raises(CheckpointError, match="no notes' look head .* --init .*before-look.safetensors"):
        load_world_model(without_look)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_world_model(tmp_path / "missing.safetensors")


def test_config_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown DynamicsConfig keys: depth"):
        WorldConfig.from_dict({"dynamics": {"depth": 3}})
    with pytest.raises(ConfigError, match="unknown config"):
        preset("huge")


@pytest.fixture(scope="module")
def generator(micro_checkpoint):
    return OysterWorldModel(micro_checkpoint, name="micro")


def shot(**overrides) -> ShotInput:
    rgb, depth = first_frame()
    values = dict(notes="foggy street at dusk", track=orbit_track(), seed=3, first_rgb=rgb, first_depth=depth)
    values.update(overrides)
    return ShotInput(**values)


def test_same_seed_same_frames_and_first_frame_kept(generator):
    a = [generator.start(shot()).step() for _ in range(1)]
    s1, s2 = generator.start(shot()), generator.start(shot())
    frames1 = [s1.step() for _ in range(6)]
    frames2 = [s2.step() for _ in range(6)]
    assert all(np.array_equal(x, y) for x, y in zip(frames1, frames2))
    assert np.array_equal(a[0], shot().first_rgb)  # the artist's first frame comes back untouched
    assert frames1[1].shape == (36, 64, 3) and frames1[1].dtype == np.uint8
    other = generator.start(shot(seed=4))
    others = [other.step() for _ in range(6)]
    assert not all(np.array_equal(x, y) for x, y in zip(frames1, others))


def test_inference_layout_gives_the_frames_of_the_plain_model(generator):
    """The loaded model (channels-last autoencoder) against the same weights in the plain layout: float
    rounding apart, the same shot."""
    plain = WorldSession(micro_model(), shot())
    fast = generator.start(shot())
    for _ in range(6):
        a, b = plain.step().astype(int), fast.step().astype(int)
        assert (np.abs(a - b) <= 1).mean() > 0.999 and np.abs(a - b).mean() < 0.01


def test_the_context_lane_gives_the_frames_of_one_lane_in_order(generator):
    """Each frame's clean pass and the next frame's conditioning run beside the next frame's cache work; the
    frames are those of doing it all in order, bit for bit, with or without a first frame."""
    for overrides in ({}, {"first_rgb": None, "first_depth": None}):
        track = orbit_track(n=12)
        two = generator.start(shot(track=track, **overrides))
        one = WorldSession(generator.model, shot(track=track, **overrides), context_lane=False)
        for _ in range(12):
            assert np.array_equal(two.step(), one.step())


def test_notes_steps_change_only_the_frame_made_from_notes_alone():
    """A frame from the notes alone takes `sampler.notes_steps` Euler steps, the frames after it `steps`:
    with a first frame given nothing is made from the notes alone, so the shot does not change; without one
    frame 0 does, and it is made with one network pass per step (guided: two)."""
    model = micro_model()
    calls = []
    original_step = model.dynamics.step
    model.dynamics.step = lambda *a: calls.append(1) or original_step(*a)

    def frames(notes_steps: int, **overrides) -> tuple[list[np.ndarray], int]:
        model.config.sampler.notes_steps = notes_steps
        session = WorldSession(model, shot(**overrides), context_lane=False)
        calls.clear()
        out = [session.step()]
        first_calls = len(calls)
        return out + [session.step() for _ in range(3)], first_calls

    given_1, _ = frames(1)
    given_4, _ = frames(4)
    assert all(np.array_equal(a, b) for a, b in zip(given_1, given_4))
    alone_1, passes_1 = frames(1, first_rgb=None, first_depth=None)
    alone_4, passes_4 = frames(4, first_rgb=None, first_depth=None)
    assert not np.array_equal(alone_1[0], alone_4[0])
    assert (passes_1, passes_4) == (2 * 1, 2 * 4)  # guided and unguided velocity per step
    with pytest.raises(ConfigError, match="notes_steps"):
        WorldConfig.from_dict({"sampler": {"notes_steps": 9}})


def with_look(model: WorldModel, mean: list[float], std: list[float]) -> WorldModel:
    """The model with a look head that gives every notes this look."""
    with torch.no_grad():
        model.look.net[2].weight.zero_()
        model.look.net[2].bias.copy_(torch.tensor(mean + list(np.log(std))))
    return model


def test_a_grade_gives_a_frame_the_look():
    rng = np.random.default_rng(0)
    source = rng.random((36, 64, 3)).astype(np.float32) * [0.5, 0.8, 0.3]
    look = np.array([0.6, 0.4, 0.2, *np.log([0.1, 0.05, 0.02])], np.float32)
    np.testing.assert_allclose(frame_looks(apply_grade(source, grade_to(source, look))), look, atol=1e-5)
    flat = np.full((36, 64, 3), 0.5, np.float32)                 # no spread to stretch: the gain stays bounded
    assert np.isfinite(apply_grade(flat, grade_to(flat, look))).all()


def test_a_frame_from_notes_alone_takes_the_notes_look_and_a_first_frame_is_kept():
    mean, std = [0.6, 0.4, 0.3], [0.06, 0.05, 0.04]
    model = with_look(micro_model(), mean, std)
    alone = WorldSession(model, shot(first_rgb=None, first_depth=None)).step().astype(np.float32) / 255.0
    np.testing.assert_allclose(frame_looks(alone), mean + list(np.log(std)), atol=0.03)
    assert np.array_equal(WorldSession(model, shot()).step(), shot().first_rgb)


def test_a_notes_event_fades_into_its_notes_look():
    """A still camera on a first frame of another look: the cache shows that frame all through, and the
    event grades it into the look, halfway through its ramp and in full after it."""
    mean, std = [0.3, 0.5, 0.7], [0.1, 0.15, 0.2]
    model, event, n = with_look(micro_model(), mean, std), 4, 4 + EVENT_RAMP_FRAMES + 2
    track = orbit_track(n=n)
    for frame in track["frames"]:
        frame["c2w"], frame["rel"] = np.eye(4).tolist(), np.eye(4).tolist()
    session = WorldSession(model, shot(track=track, notes_events=[(1 + event, "night, heavy rain")]))
    looks = [frame_looks(session.step().astype(np.float32) / 255.0) for _ in range(n)]
    target = np.array(mean + list(np.log(std)))
    before, halfway = np.abs(looks[event - 1] - target), np.abs(looks[event + EVENT_RAMP_FRAMES // 2 - 1] - target)
    assert before[:3].max() > 0.15 and (halfway < before).all()
    np.testing.assert_allclose(looks[-1], target, atol=0.02)


def test_snapshot_and_restore_reproduce_the_continuation(generator):
    """Also past a full KV window (micro: 4 frames) and in a new session, as a continuation from disk is."""
    notes_only = shot(first_rgb=None, first_depth=None, track=orbit_track(n=13))
    for before in (3, 7):
        session = generator.start(notes_only)
        for _ in range(before):
            session.step()
        state = session.snapshot()
        after = [session.step() for _ in range(6)]
        session.restore(state)
        assert session.frame_index == before
        again = [session.step() for _ in range(6)]
        fresh = generator.start(notes_only)
        fresh.restore(state)
        anew = [fresh.step() for _ in range(6)]
        assert all(np.array_equal(x, y) and np.array_equal(x, z) for x, y, z in zip(after, again, anew))


def test_notes_event_changes_only_later_frames(generator):
    plain = generator.start(shot())
    evented = generator.start(shot(notes_events=[(5, "night, heavy rain, lightning")]))
    a = [plain.step() for _ in range(7)]
    b = [evented.step() for _ in range(7)]
    assert all(np.array_equal(x, y) for x, y in zip(a[:4], b[:4]))  # frames 1-4
    assert not np.array_equal(a[5], b[5])


def test_bad_input_is_refused_clearly(generator):
    with pytest.raises(GeneratorInputError, match="notes are empty"):
        generator.start(shot(notes="   "))
    with pytest.raises(GeneratorInputError, match="notes event at frame 5 has empty notes"):
        generator.start(shot(notes_events=[(3, "at night"), (5, " ")]))
    jump = orbit_track()
    jump["frames"][4]["rel"][0][3] = 100.0
    with pytest.raises(GeneratorInputError, match="camera jumps 100.0 m between frames 4 and 5"):
        generator.start(shot(track=jump))
    with pytest.raises(GeneratorInputError, match="uint8 RGB of 64x36"):
        generator.start(shot(first_rgb=np.zeros((36, 64, 4), np.uint8)))
    with pytest.raises(GeneratorInputError, match="uint8 RGB"):
        generator.start(shot(first_rgb=np.zeros((36, 64, 3), np.float32)))
    with pytest.raises(GeneratorInputError, match="depth must be 64x36"):
        generator.start(shot(first_depth=np.ones((10, 10), np.float32)))


def test_output_resized_to_the_shot_resolution(generator):
    big = orbit_track(n=3, width=128, height=72)
    session = generator.start(ShotInput("a quiet room", big, 0))
    assert session.step().shape == (72, 128, 3)


def test_export_keeps_weights_drops_optimizer_and_may_change_inference_settings(micro_checkpoint, tmp_path):
    config, tensors, _ = read_checkpoint(micro_checkpoint)
    training = tmp_path / "last.safetensors"
    save_checkpoint(training, config, {**tensors, "optim.out.weight.exp_avg": torch.zeros(3)},
                    {"stage": "dynamics", "step": "7"})
    one_step = WorldConfig.from_dict({**config.to_dict(), "sampler": {"steps": 1}})
    shipped = tmp_path / "shipped.safetensors"
    export_weights(training, shipped, one_step, {"note": "test"})
    loaded_config, loaded, metadata = read_checkpoint(shipped)
    assert loaded_config.sampler.steps == 1 and metadata["step"] == "7" and metadata["note"] == "test"
    assert loaded.keys() == tensors.keys()
    bigger = WorldConfig.from_dict({**config.to_dict(), "dynamics": {**config.to_dict()["dynamics"], "d_model": 64}})
    with pytest.raises(CheckpointError, match="does not fit its config"):
        export_weights(training, tmp_path / "bad.safetensors", bigger)


def test_export_weights_command(micro_checkpoint, tmp_path, capsys):
    from model_runtime.__main__ import main

    config, tensors, _ = read_checkpoint(micro_checkpoint)
    training = tmp_path / "last.safetensors"
    save_checkpoint(training, config, {**tensors, "optim.out.weight.exp_avg": torch.zeros(3)}, {"step": "7"})
    settings = tmp_path / "settings.safetensors"
    save_checkpoint(settings, WorldConfig.from_dict({**config.to_dict(), "sampler": {"steps": 1}}), tensors)
    shipped = tmp_path / "shipped.safetensors"
    assert main(["export-weights", str(training), str(shipped), "--config-from", str(settings),
                 "--note", "step 7"]) == 0
    loaded_config, loaded, metadata = read_checkpoint(shipped)
    assert loaded_config.sampler.steps == 1 and loaded.keys() == tensors.keys()
    assert metadata["exported"] == "step 7" and metadata["step"] == "7"
    assert main(["export-weights", str(tmp_path / "none.safetensors"), str(tmp_path / "x.safetensors")]) == 2
    assert "does not exist" in capsys.readouterr().out
    assert main(["export-weights", str(training), str(training)]) == 2


def test_splat_cracks_close_but_border_strips_stay_new_content():
    valid = np.ones((20, 30), bool)
    valid[:, :2] = False          # a strip the camera newly sees at the border
    valid[10, 15] = False         # one-pixel crack
    valid[5:7, 20] = False        # two-pixel crack
    valid[12:20, 24:30] = False   # a large hole reaching the border
    covered = close_cracks(valid, 2)
    assert covered[10, 15] and covered[5:7, 20].all() and covered[valid].all()
    assert not covered[:, :2].any() and not covered[14:20, 26:30].any()


def test_point_cache_adds_in_order_and_a_full_ring_drops_its_oldest_an_eighth_at_once():
    cache = PointCache(max_points=1000)
    K, c2w, depth = np.array([[10.0, 0, 5], [0, 10.0, 5], [0, 0, 1]]), np.eye(4), np.full((10, 10), 2.0, np.float32)
    for frame in range(10):
        cache.add(np.full((10, 10, 3), frame, np.float32), depth, K, c2w)
        assert np.array_equal(cache.colors[:, 0], np.repeat(np.arange(frame + 1), 100))  # oldest first
    cache.add(np.full((10, 10, 3), 10, np.float32), depth, K, c2w)  # full: 100 must go, 125 go
    assert len(cache) == 975 and np.array_equal(cache.colors[:, 0], np.repeat(np.arange(1, 11), 100)[25:])
    state = cache.state()
    cache.add(np.full((10, 10, 3), 11, np.float32), depth, K, c2w)  # 75 must go: 125 go again
    assert len(cache) == 950 and cache.colors[0, 0] == 2 and cache.colors[-1, 0] == 11
    cache.set_state(state)
    assert len(cache) == 975 and np.array_equal(cache.colors, state[1])
    cache.add(np.full((40, 40, 3), 12, np.float32), np.full((40, 40), 2.0, np.float32), K, c2w)  # 1,600 new
    assert len(cache) == 1000 and (cache.colors[:, 0] == 12).all()  # the newest 1,000 of them


def test_point_cache_keeps_the_boxes_of_its_runs_of_points_as_they_come_go_and_move():
    cache = PointCache(max_points=6 * BLOCK)
    K, c2w = np.array([[10.0, 0, 5], [0, 10.0, 5], [0, 0, 1]]), np.eye(4)
    rng = np.random.default_rng(7)
    side = int(np.ceil(np.sqrt(BLOCK * 0.7)))

    def add(**kwargs):
        cache.add(np.zeros((side, side, 3), np.float32), rng.uniform(1.0, 9.0, (side, side)).astype(np.float32),
                  K, c2w, **kwargs)
        assert np.array_equal(cache.blocks(), block_bounds(cache.points)), len(cache)

    add(anchor=True)
    for _ in range(12):                                 # past max_points: the ring drops and moves
        add()
    state = cache.state()
    add()
    cache.set_state(state)
    assert np.array_equal(cache.blocks(), block_bounds(cache.points))
    add(anchor=True)


def test_point_cache_keeps_its_anchor_and_bounds_the_ring():
    cache = PointCache(max_points=300)
    K, c2w = np.array([[10.0, 0, 5], [0, 10.0, 5], [0, 0, 1]]), np.eye(4)
    depth = np.full((10, 10), 2.0, np.float32)
    depth[0] = np.inf                                           # sky joins as a far dome
    cache.add(np.zeros((10, 10, 3), np.float32), depth, K, c2w, anchor=True)
    for _ in range(5):
        cache.add(np.ones((10, 10, 3), np.float32), depth, K, c2w)
    assert len(cache) == 300 and cache.n_anchor == 100 and not cache.colors[:100].any()
    assert cache.points[:, 2].max() > 1e4
    render = cache.render(K, c2w, 10, 10)
    assert render.valid.all() and np.isfinite(render.depth).all()
    shifted = np.eye(4)
    shifted[0, 3] = 0.5                                         # half a metre right: the left edge is new
    render = cache.render(K, shifted, 10, 10)
    assert not render.valid.all() and np.isfinite(render.depth).all()      # holes hold the nearest point
    state = cache.state()
    cache.add(np.ones((10, 10, 3), np.float32), depth, K, c2w, mask=np.zeros((10, 10), bool))
    cache.set_state(state)
    assert len(cache) == 300 and cache.n_anchor == 100
