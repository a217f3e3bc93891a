"""Live frames with the blockout, through a real runtime process over a real socket and the shipped painter:
a frame's passes are files (`passes: {folder, frame}`, as oyster_blender.passes writes them) or the runtime
draws them from the blockout's triangles (`blockout: {file, clip}`, as oyster_blender.blockout_mesh writes
them), and bad ones are refused with a 422 naming the field, before the painter sees them
(docs/runtime_api.md, "Live mode"). The painted frames following the blockout in Blender: tests/test_live_painter_bpy.py."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from oyster_blender.client import RuntimeClient, RuntimeClientError
from oyster_blender.live import LiveClient
from runtime_fixtures import HEIGHT, WIDTH, Runtime

NOTES = "a quiet courtyard at noon, clear sky"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("live_passes")
    server = Runtime(root / "state", root)
    try:
        yield server
    finally:
        server.stop()


def box_passes(folder: Path, frame: int, width: int = WIDTH, height: int = HEIGHT,
               depth_value: float = 4.0) -> dict:
    """A box in the middle of the frame at `depth_value` metres, sky around it; the live frame's `passes`."""
    folder.mkdir(parents=True, exist_ok=True)
    depth = np.zeros((height, width), np.float32)
    depth[height // 4:3 * height // 4, width // 3:2 * width // 3] = depth_value
    shade = np.where(depth > 0, 180, 0).astype(np.uint8)
    cv2.imwrite(str(folder / f"depth_{frame:04d}.exr"), np.dstack([depth] * 3))
    cv2.imwrite(str(folder / f"shade_{frame:04d}.png"), shade)
    return {"folder": str(folder), "frame": frame}


def still(passes: dict | None = None) -> dict:
    frame = {"c2w": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
             "fx": WIDTH * 0.8, "fy": WIDTH * 0.8, "cx": WIDTH / 2, "cy": HEIGHT / 2}
    return frame if passes is None else dict(frame, passes=passes)


def refused_field(live: LiveClient, session: str, frame: dict) -> tuple[str, str]:
    with pytest.raises(RuntimeClientError) as refused:
        live.step(session, frame)
    assert refused.value.status == 422, refused.value
    return refused.value.fields[0]["field"], refused.value.fields[0]["message"]


def test_bad_live_passes_are_refused_naming_the_field(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory):
    live = LiveClient(RuntimeClient(runtime.url, runtime.token))
    folder = runtime.output_root / "passes"
    session = live.start({"notes": NOTES, "width": WIDTH, "height": HEIGHT})  # the default model: the painter

    wrong_size = box_passes(folder / "small", 1, WIDTH // 2, HEIGHT // 2)
    nan = box_passes(folder / "nan", 1)
    depth = cv2.imread(str(folder / "nan" / "depth_0001.exr"), cv2.IMREAD_UNCHANGED)
    depth[3, 5] = np.nan
    cv2.imwrite(str(folder / "nan" / "depth_0001.exr"), depth)
    no_shade = box_passes(folder / "no_shade", 1)
    (folder / "no_shade" / "shade_0001.png").unlink()
    unreadable = box_passes(folder / "unreadable", 1)
    (folder / "unreadable" / "depth_0001.exr").write_bytes(b"not an EXR")
    outside = tmp_path_factory.mktemp("outside_the_output_root")
    cases = [
        (wrong_size, "passes.depth", "size 32x18, the shot is 64x36"),
        (nan, "passes.depth", "NaN or infinite depth"),
        (no_shade, "passes.shade", "missing file"),
        (unreadable, "passes.depth", "unreadable file"),
        (box_passes(outside, 1), "passes.folder", "outside the runtime's output root"),
        ({"folder": str(folder / "nan")}, "passes", "must be an object {folder, frame}"),
        ({"folder": str(folder / "nan"), "frame": "1"}, "passes.frame", "integer frame number"),
    ]
    for passes, field, message in cases:
        got_field, got_message = refused_field(live, session, still(passes))
        assert got_field == field and message in got_message, (field, got_field, got_message)
    # the painter needs passes: a frame without them is refused before the model starts
    field, message = refused_field(live, session, still())
    assert field == "frame" and "passes" in message, message

    good = still(box_passes(folder / "good", 7))
    first = live.step(session, good)
    assert first.index == 0  # no refused frame reached the painter
    image = cv2.imdecode(np.frombuffer(first.image, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (HEIGHT, WIDTH, 3)
    field, message = refused_field(live, session, still())  # a session with passes needs them every frame
    assert field == "passes" and "every frame needs them" in message, message
    assert live.step(session, good).index == 1
    live.close(session)



def box_blockout(path: Path, size: float = 1.0, depth: float = 4.0, **arrays: np.ndarray) -> dict:
    """A cube of side 2 * `size` centred `depth` scene units in front of the identity camera, in the layout the
    extension writes (oyster_blender/blockout_mesh.py: object-local, here with the depth in its matrix;
    `arrays` replace its own); the live frame's `blockout`."""
    positions = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float32) * size
    triangles = np.array([(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1), (2, 3, 7), (2, 7, 6),
                          (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3)], np.int32)
    corners = positions[triangles]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    matrix = np.eye(4, dtype=np.float32)
    matrix[2, 3] = depth
    own = {"positions": positions, "triangles": triangles, "loops": np.arange(36, dtype=np.int32).reshape(12, 3),
           "normals": np.repeat(normal, 3, 0).astype(np.float32), "matrices": matrix[None], "ids": np.array([7]),
           "vertex_counts": np.array([8]), "triangle_counts": np.array([12]), "loop_counts": np.array([36])}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **(own | arrays))
    return {"file": str(path), "clip": [0.1, 100.0]}


def test_live_frames_drawn_from_a_blockout_and_bad_blockouts_refused(runtime: Runtime,
                                                                    tmp_path_factory: pytest.TempPathFactory):
    live = LiveClient(RuntimeClient(runtime.url, runtime.token))
    folder = runtime.output_root / "blockout"
    session = live.start({"notes": NOTES, "width": WIDTH, "height": HEIGHT})
    nan_positions = np.zeros((8, 3), np.float32)
    nan_positions[0, 0] = np.nan
    (folder / "junk.npz").parent.mkdir(parents=True, exist_ok=True)
    (folder / "junk.npz").write_bytes(b"not a blockout")
    outside = tmp_path_factory.mktemp("outside_the_output_root")
    good = box_blockout(folder / "box.npz")
    cases = [
        ({"file": str(folder / "missing.npz"), "clip": [0.1, 100.0]}, "blockout.file", "no blockout file"),
        ({"file": str(folder / "junk.npz"), "clip": [0.1, 100.0]}, "blockout", "is not a blockout file"),
        (box_blockout(folder / "nan.npz", positions=nan_positions), "blockout", "must be finite"),
        (box_blockout(folder / "short.npz", matrices=np.eye(4)[None, :3]), "blockout", "it must be (1, 4, 4)"),
        (box_blockout(folder / "counts.npz", vertex_counts=np.array([7])), "blockout", "must add up"),
        (box_blockout(folder / "index.npz", triangles=np.full((12, 3), 8, np.int32)), "blockout",
         "a vertex or loop its object does not have"),
        (box_blockout(folder / "unpicked.npz", ids=np.array([{"a": 1}], object)), "blockout",
         "is not a blockout file"),  # pickled object arrays are refused, never unpickled
        (box_blockout(outside / "box.npz"), "blockout.file", "outside the runtime's output root"),
        (dict(good, clip=[5.0, 1.0]), "blockout.clip", "0 < start < end"),
        ({"file": good["file"]}, "blockout", "must be an object {file, clip}"),
    ]
    for blockout, field, message in cases:
        got_field, got_message = refused_field(live, session, dict(still(), blockout=blockout))
        assert got_field == field and message in got_message, (field, got_field, got_message)
    field, _ = refused_field(live, session, dict(still(box_passes(folder / "passes", 1)), blockout=good))
    assert field == "blockout"  # passes files and a blockout at once

    first = live.step(session, dict(still(), blockout=good))
    assert first.index == 0  # no refused frame reached the painter
    image = cv2.imdecode(np.frombuffer(first.image, np.uint8), cv2.IMREAD_COLOR).astype(np.float32)
    # the box (the middle of the frame, drawn from its triangles) is painted apart from the sky around it
    box = np.zeros((HEIGHT, WIDTH), bool)
    half = WIDTH * 0.8 / 3.0  # pixels of one scene unit at the box's front face, 3 units away: fx / 3
    box[round(HEIGHT / 2 - half * 0.8):round(HEIGHT / 2 + half * 0.8),
        round(WIDTH / 2 - half * 0.8):round(WIDTH / 2 + half * 0.8)] = True
    sky = np.ones_like(box)
    sky[round(HEIGHT / 2 - half * 1.6):round(HEIGHT / 2 + half * 1.6),
        round(WIDTH / 2 - half * 1.6):round(WIDTH / 2 + half * 1.6)] = False
    assert np.abs(image[box].mean(0) - image[sky].mean(0)).max() > 20
    field, message = refused_field(live, session, still(box_passes(folder / "passes", 1)))
    assert field == "blockout" and "every frame needs them" in message, message
    assert live.step(session, dict(still(), blockout=good)).index == 1
    live.close(session)


def test_a_held_camera_is_drawn_once_and_a_new_pose_or_blockout_again(tmp_path):
    from model_runtime.live.session import LiveBlockout

    track = {"width": WIDTH, "height": HEIGHT, "scale": 1.0}
    live = LiveBlockout()
    blockout = box_blockout(tmp_path / "box.npz")
    first = live.passes(blockout, still(), track)
    assert live.passes(blockout, still(), track) is first  # the camera held: the same passes, not drawn again
    moved = dict(still(), cx=WIDTH / 2 + 4)
    assert not np.array_equal(live.passes(blockout, moved, track).depth, first.depth)  # the view moved
    nearer = box_blockout(tmp_path / "nearer.npz", depth=3.0)  # the geometry changed: a new file
    drawn = live.passes(nearer, still(), track)
    assert drawn is not first and drawn.depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(2.0, rel=1e-5)
    assert first.depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(3.0, rel=1e-5)


def test_passes_drawn_past_the_frame_are_the_drawing_of_a_wider_frame_there(tmp_path):
    """Go Live's passes can be drawn past the frame (painter/ahead.py paints ahead of a pan there): a box reaching
    past the borders is the same pixels as a frame 8 pixels wider all round, drawn with its camera moved to match."""
    from model_runtime.live.session import LiveBlockout

    track = {"width": WIDTH, "height": HEIGHT, "scale": 1.0}
    blockout = box_blockout(tmp_path / "box.npz", size=0.5)
    drawn = LiveBlockout().passes(blockout, still(), track)
    wide = LiveBlockout().passes(blockout, dict(still(), cx=WIDTH / 2 + 8, cy=HEIGHT / 2 + 8),
                                 {"width": WIDTH + 16, "height": HEIGHT + 16, "scale": 1.0})
    past = drawn.beyond((-8, HEIGHT + 8, -8, WIDTH + 8))
    for name in ("depth", "shade", "object"):
        np.testing.assert_array_equal(getattr(past, name), getattr(wide, name))
        np.testing.assert_array_equal(getattr(wide, name)[8:-8, 8:-8], getattr(drawn, name))
    assert (past.depth[:8] == 0).all() and (past.depth[HEIGHT // 2 + 8, 8:-8] > 0).any()  # sky above, the box inside
    right = drawn.beyond((0, HEIGHT, WIDTH, WIDTH + 8))
    np.testing.assert_array_equal(right.depth, wide.depth[8:-8, -8:])
