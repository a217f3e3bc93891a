"""The wire format's validator and the bpy-free camera math, on plain data (no Blender)."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest

from oyster_blender.core import camera_math
from oyster_blender.core.errors import TrackError
from oyster_blender.core.track_schema import MAX_FRAMES, SCHEMA, validate_track


def rotation_z(angle: float) -> list[list[float]]:
    c, s = math.cos(angle), math.sin(angle)
    return [[c, -s, 0.0, 1.0], [s, c, 0.0, 2.0], [0.0, 0.0, 1.0, 3.0], [0.0, 0.0, 0.0, 1.0]]


def make_track(n: int = 3, start: int = 1) -> dict:
    frames, prev = [], None
    for i in range(n):
        c2w = camera_math.blender_to_opencv(rotation_z(0.1 * i))
        rel = camera_math.relative_pose(prev, c2w) if prev else [[float(a == b) for b in range(4)] for a in range(4)]
        frames.append({"frame": start + i, "c2w": c2w, "fx": 500.0, "fy": 500.0, "cx": 320.0, "cy": 180.0, "rel": rel})
        prev = c2w
    return {"version": 1, "width": 640, "height": 360, "fps": 24.0, "frame_start": start, "frame_end": start + n - 1,
            "scale": 1.0, "frames": frames}


def test_a_valid_track_passes_and_survives_json():
    track = make_track()
    validate_track(track)
    validate_track(json.loads(json.dumps(track)))


@pytest.mark.parametrize("change, field", [
    (lambda t: t.update(version=2), "version"),
    (lambda t: t.pop("scale"), "lacks scale"),
    (lambda t: t.update(extra=1), "unknown fields extra"),
    (lambda t: t.update(width=0), "width"),
    (lambda t: t.update(height=9000), "height"),
    (lambda t: t.update(width=640.0), "width must be an integer"),
    (lambda t: t.update(fps=float("nan")), "fps"),
    (lambda t: t.update(scale=0), "scale must be positive"),
    (lambda t: t.update(frame_end=9), "does not match 3 frames"),
    (lambda t: t.update(frames=[]), "frames must be a list"),
    (lambda t: t["frames"][1].update(frame=7), r"frames\[1\].frame must be 2"),
    (lambda t: t["frames"][0].update(fx=-1.0), r"frames\[0\].fx must be positive"),
    (lambda t: t["frames"][0].update(cy=float("inf")), r"frames\[0\].cy must be a finite number"),
    (lambda t: t["frames"][2]["c2w"][0].__setitem__(3, float("nan")), r"frames\[2\].c2w\[0\]\[3\]"),
    (lambda t: t["frames"][1]["c2w"][0].__setitem__(0, 1.01), r"frames\[1\].c2w rotation is not orthonormal"),
    (lambda t: t["frames"][1]["rel"].pop(), r"frames\[1\].rel must be a 4x4"),
    (lambda t: t["frames"][0]["c2w"][3].__setitem__(0, 1.0), "last row"),
    (lambda t: [row.__setitem__(0, -row[0]) for row in t["frames"][0]["c2w"][:3]], "reflection"),
    (lambda t: t["frames"][0].pop("rel"), r"frames\[0\] lacks rel"),
    (lambda t: t["frames"][0].update(fy=True), r"frames\[0\].fy must be a finite number"),
])
def test_each_bad_field_is_named(change, field):
    track = make_track()
    change(track)
    with pytest.raises(TrackError, match=field):
        validate_track(track)


def test_not_an_object_and_the_orthonormal_tolerance():
    with pytest.raises(TrackError, match="JSON object"):
        validate_track([1, 2])
    track = make_track()
    track["frames"][0]["c2w"][0][0] += 2e-5  # float32 round trips (~1e-7) stay well inside 1e-4
    validate_track(track)


def test_frame_count_limit_and_a_long_track():
    too_long = make_track(1)
    too_long["frames"] = too_long["frames"] * (MAX_FRAMES + 1)
    too_long["frame_end"] = MAX_FRAMES + 1
    with pytest.raises(TrackError, match="1..10000"):
        validate_track(too_long)
    track = make_track(1)
    frame = track["frames"][0]
    track["frames"] = [dict(copy.deepcopy(frame), frame=1 + i) for i in range(1000)]
    track["frame_end"] = 1000
    validate_track(track)  # its time, which every request pays: python -m model_runtime.benchmarks.camera_track


def test_schema_is_json_and_lists_the_wire_fields():
    schema = json.loads(json.dumps(SCHEMA))
    assert set(schema["required"]) == {"version", "width", "height", "fps", "frame_start", "frame_end", "scale",
                                       "frames"}
    assert set(schema["properties"]["frames"]["items"]["required"]) == {"frame", "c2w", "fx", "fy", "cx", "cy", "rel"}


def test_the_documented_schema_is_the_one_in_the_code():
    text = (Path(__file__).resolve().parent.parent / "docs" / "camera_track.md").read_text()
    block = text.split("## JSON Schema", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == json.loads(json.dumps(SCHEMA))


def test_blender_to_opencv_flips_y_and_z_and_drops_object_scale():
    c2w = np.array(camera_math.blender_to_opencv([[2.0, 0, 0, 1], [0, 2.0, 0, 2], [0, 0, 2.0, 3], [0, 0, 0, 1]]))
    assert np.allclose(c2w, np.diag([1.0, -1.0, -1.0, 1.0]) + np.array([[0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 3],
                                                                           [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="zero scale"):
        camera_math.blender_to_opencv([[0.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])


def test_relative_pose_composes_back():
    a, b = np.array(rotation_z(0.3)), np.array(rotation_z(-1.1))
    b[:3, 3] = [4.0, -2.0, 0.5]
    rel = np.array(camera_math.relative_pose(a.tolist(), b.tolist()))
    assert np.allclose(a @ rel, b, atol=1e-12)
    assert np.allclose(np.array(camera_math.rigid_inverse(b.tolist())) @ b, np.eye(4), atol=1e-12)


def test_intrinsics_closed_forms():
    # horizontal fit, square pixels, no shift: fx = lens / sensor_width * width, centred
    assert camera_math.intrinsics(50, 36, 24, "HORIZONTAL", 1920, 1080) == pytest.approx((50 / 36 * 1920,) * 2 + (960, 540))
    # vertical fit spans the height with the sensor height
    fx, fy, _, _ = camera_math.intrinsics(50, 36, 24, "VERTICAL", 1920, 1080)
    assert fx == fy == pytest.approx(50 / 24 * 1080)
    # AUTO on a portrait frame fits the sensor width to the height
    fx, _, _, _ = camera_math.intrinsics(50, 36, 24, "AUTO", 1080, 1920)
    assert fx == pytest.approx(50 / 36 * 1920)
    # pixel aspect: pixels twice as tall -> half as many pixels per unit of height
    fx, fy, _, _ = camera_math.intrinsics(50, 36, 24, "HORIZONTAL", 1000, 500, 1.0, 2.0)
    assert fy == pytest.approx(fx / 2)
    # shift is a fraction of the fitted side; +y moves the frame up, so the axis sits lower in the image
    _, _, cx, cy = camera_math.intrinsics(50, 36, 24, "HORIZONTAL", 1000, 500, shift_x=0.1, shift_y=0.1)
    assert (cx, cy) == pytest.approx((500 - 100, 250 + 100))


def test_shot_scale():
    assert camera_math.shot_scale(0.01) == 0.01
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="unit scale"):
            camera_math.shot_scale(bad)


def test_the_documented_schema_is_the_one_in_the_code():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "camera_track.md").read_text()
    block = doc.split("## JSON Schema", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    assert json.loads(block) == json.loads(json.dumps(SCHEMA))
