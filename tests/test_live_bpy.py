"""Live mode through a real runtime process: 100 camera updates in, 100 frames out in order, and in the
real bpy module a recorded camera with 100 keyframes (docs/runtime_api.md, "Live mode").

depth-warp at 64x36 stands in for the world model: the plumbing is what is tested, and it needs no
checkpoint. bpy as a module runs no event loop, so the test loop calls the recorder's `tick()`.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import cv2
import numpy as np
import pytest

from oyster_blender.client import RuntimeClient, RuntimeClientError
from oyster_blender.live import LiveClient
from runtime_fixtures import HEIGHT, WIDTH, Runtime, write_first_frame

UPDATES = 100


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("live")
    server = Runtime(root / "state", root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def start_request(runtime: Runtime) -> dict:
    rgb, depth = write_first_frame(runtime.output_root)
    return {"model": "depth-warp", "notes": "a quiet courtyard", "width": WIDTH, "height": HEIGHT,
            "first_frame": {"rgb": str(rgb), "depth": str(depth)}}


def pose(i: int) -> dict:
    """A dolly forward with a slow pan, as an OpenCV c2w frame with the track fixtures' intrinsics."""
    yaw = math.radians(0.3 * i)
    c, s = math.cos(yaw), math.sin(yaw)
    c2w = [[c, 0.0, s, 0.0], [0.0, 1.0, 0.0, 0.0], [-s, 0.0, c, 0.02 * i], [0.0, 0.0, 0.0, 1.0]]
    return {"c2w": c2w, "fx": WIDTH * 0.8, "fy": WIDTH * 0.8, "cx": WIDTH / 2, "cy": HEIGHT / 2}


def fcurves(animated: Any) -> Any:
    """The F-curves of an ID's own action slot (since Blender 4.4 object and camera data share one action)."""
    from bpy_extras.anim_utils import action_get_channelbag_for_slot

    return action_get_channelbag_for_slot(animated.animation_data.action, animated.animation_data.action_slot).fcurves


def live_client(runtime: Runtime) -> LiveClient:
    return LiveClient(RuntimeClient(runtime.url, runtime.token))


def test_a_hundred_camera_updates_return_a_hundred_frames_in_order(runtime: Runtime, start_request: dict):
    live = live_client(runtime)
    session = live.start(start_request)
    frames = [live.step(session, pose(i)) for i in range(UPDATES)]
    live.close(session)

    assert [frame.index for frame in frames] == list(range(UPDATES))
    assert all(frame.model_seconds > 0 for frame in frames)
    images = [cv2.imdecode(np.frombuffer(frame.image, np.uint8), cv2.IMREAD_COLOR) for frame in frames]
    assert all(image.shape == (HEIGHT, WIDTH, 3) for image in images)
    first = cv2.imread(start_request["first_frame"]["rgb"])
    assert np.array_equal(images[0], first)  # depth-warp's frame 0 is the first frame itself
    assert not np.array_equal(images[0], images[-1])  # later frames follow the camera


def test_bad_live_input_is_refused_naming_the_field(runtime: Runtime, start_request: dict):
    live = live_client(runtime)
    session = live.start(start_request)
    nan = pose(1)
    nan["c2w"][0][3] = float("nan")
    skewed = pose(1)
    skewed["c2w"][0][0] = 2.0
    cases = [(nan, "c2w[0][3]"), (skewed, "c2w"), (dict(pose(1), rel=pose(0)["c2w"]), "rel"),
             ({"c2w": pose(1)["c2w"]}, "body")]
    for frame, field in cases:
        with pytest.raises(RuntimeClientError) as refused:
            live.step(session, frame)
        assert refused.value.status == 422 and refused.value.fields[0]["field"] == field, refused.value.fields
    assert live.step(session, pose(0))[0] == 0  # refused frames never reached the model
    live.close(session)

    for closed_or_unknown in (session, "feedfeedfeedfeed"):
        with pytest.raises(RuntimeClientError) as missing:
            live.step(closed_or_unknown, pose(0))
        assert missing.value.status == 404 and closed_or_unknown in str(missing.value)
    status, body = runtime.request("POST", "/v1/live", start_request, token=None)
    assert status == 401, body
    status, body = runtime.request("POST", "/v1/live", dict(start_request, model="no-such-model"))
    assert status == 422 and body["detail"][0]["field"] == "model", body
    status, body = runtime.request("POST", "/v1/live", dict(start_request, width=65))
    assert status == 422 and body["detail"][0]["field"] == "first_frame.rgb", body


def test_a_live_flight_records_a_camera_with_a_keyframe_per_frame(oyster_scene, runtime: Runtime,
                                                                  start_request: dict):
    import bpy

    from oyster_blender.api import scene_data
    from oyster_blender.live import LIVE_IMAGE, LiveRecorder

    scene = oyster_scene
    source = scene.camera
    recorder = LiveRecorder(scene, source, RuntimeClient(runtime.url, runtime.token), model="depth-warp",
                            notes="a quiet courtyard", size=(WIDTH, HEIGHT),
                            first_frame=start_request["first_frame"]).start(timer=False)
    seen: list[bytes] = []
    deadline = time.monotonic() + 60

    def tick_until(done: Callable[[], bool]) -> None:
        while not done():
            assert recorder.error is None and time.monotonic() < deadline, recorder.error
            recorder.tick()  # how long a tick holds Blender's UI: python -m model_runtime.benchmarks.live_latency
            time.sleep(0.001)

    try:
        for i in range(UPDATES):
            source.location = (0.0, -10.0 + 0.05 * i, 2.0)  # the artist flies forward
            source.rotation_euler = (math.radians(90), 0.0, math.radians(0.5 * i))
            source.data.lens = 50.0 + 0.1 * i
            tick_until(lambda: recorder.sent > i)  # sent once the previous frame is back
            image = bpy.data.images.get(LIVE_IMAGE)
            if image is not None:
                pixels = np.empty(len(image.pixels), np.float32)
                image.pixels.foreach_get(pixels)
                seen.append(pixels.tobytes())
    finally:
        recorder.stop()
    tick_until(lambda: len(recorder.indices) == UPDATES)  # the frames in flight still arrive after stop

    assert recorder.indices == list(range(UPDATES)) and recorder.error is None
    assert len(recorder.latency) == UPDATES  # one frame in flight: each tick shows at most one
    assert all(round_trip > model > 0 for round_trip, model in recorder.latency)
    assert tuple(bpy.data.images[LIVE_IMAGE].size) == (WIDTH, HEIGHT)
    assert len(set(seen)) > UPDATES // 2  # the image datablock shows each new frame
    camera = recorder.camera
    assert camera.name == f"{source.name} live take"
    curves = {(c.data_path, c.array_index): c for c in fcurves(camera)}
    assert sorted(curves) == [("location", i) for i in range(3)] + [("rotation_euler", i) for i in range(3)]
    assert all(len(c.keyframe_points) == UPDATES for c in curves.values())
    lens = fcurves(camera.data).find("lens")
    assert len(lens.keyframe_points) == UPDATES
    assert lens.evaluate(scene.frame_start + 42) == pytest.approx(50.0 + 4.2, abs=1e-4)
    assert curves["location", 1].evaluate(scene.frame_start + 42) == pytest.approx(-10.0 + 0.05 * 42, abs=1e-5)

    shot = recorder.to_shot("Live 010")
    assert (shot.camera, shot.frame_start, shot.frame_end) == (camera, 1, UPDATES)
    assert scene.frame_end == UPDATES and scene_data(scene).shots[-1].name == "Live 010"
    assert (shot.resolution_x, shot.resolution_y) == (WIDTH, HEIGHT)
