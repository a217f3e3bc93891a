"""Captions in the words an artist writes in scene notes, and the labels behind them (bpy-free).

"foggy coastal road at dusk, low camera, slow push in, wide lens". The labels
(time_of_day, weather, setting, move, camera height, lens) are kept next to
the caption so the evaluation's notes-adherence probe can be trained on them.
"""
from __future__ import annotations

import numpy as np

from model_runtime.data.layout import INTERIORS, Layout
from model_runtime.data.moves import CameraMove

WEATHER_WORDS = {"clear": ["clear", "sunny", "bright"], "overcast": ["overcast", "grey", "cloudy"],
            "fog": ["foggy", "misty", "fog-bound"], "rain": ["rainy", "rain-soaked", "wet"]}
WEATHER_NIGHT_CLEAR_WORDS = ["clear", "moonlit", "quiet"]
TIME_WORDS = {"dawn": ["at dawn", "at sunrise", "in the early morning"], "day": ["in daylight", "at midday", "by day"],
         "dusk": ["at dusk", "at sunset", "in the evening"], "night": ["at night", "after dark", "at night"]}
MOVE_WORDS = {"static": ["static camera", "locked-off shot"], "dolly_in": ["dolly in", "push in"],
         "dolly_out": ["dolly out", "pull back"], "truck": ["truck {side}", "tracking shot moving {side}"],
         "pan": ["pan {side}", "panning {side}"], "tilt": ["tilt {updown}", "tilting {updown}"],
         "crane_up": ["crane up", "rising crane shot"], "crane_down": ["crane down", "descending crane shot"],
         "orbit": ["orbit around the subject", "arc shot"], "push_in_zoom": ["push in with a zoom", "dolly zoom in"],
         "handheld": ["handheld camera", "handheld, shaky"], "whip_pan": ["whip pan {side}", "fast whip pan {side}"]}


def camera_height_word(height_m: float) -> str:
    if height_m < 1.0:
        return "low camera"
    if height_m < 2.5:
        return "eye level"
    if height_m < 12:
        return "high camera"
    return "aerial view"


def lens_word(lens_mm: float) -> str:
    if lens_mm < 24:
        return "ultra wide lens"
    if lens_mm < 35:
        return "wide lens"
    if lens_mm < 60:
        return "normal lens"
    if lens_mm < 100:
        return "telephoto"
    return "long telephoto lens"


def _height_above_ground(layout: Layout) -> float:
    x, y, z = layout.stage.position
    if layout.terrain is None:
        return float(z)
    ground = float(layout.terrain.height(np.array(x), np.array(y)))
    return float(z - max(ground, layout.water_level if layout.water_level is not None else ground))


def caption_for(layout: Layout, move: CameraMove, rng: np.random.Generator) -> tuple[str, dict[str, str]]:
    """The caption and its labels (all strings, as they go into the shard metadata)."""
    def pick(options: list[str]) -> str:
        return str(options[int(rng.integers(len(options)))])

    height = _height_above_ground(layout)
    place = layout.extras["place"]
    if layout.setting in INTERIORS:
        scene = f"{place} {pick(TIME_WORDS[layout.time_of_day])}, {layout.extras['lights']}"
    else:
        weather_words = (WEATHER_NIGHT_CLEAR_WORDS if layout.weather == "clear" and layout.time_of_day == "night"
                         else WEATHER_WORDS[layout.weather])
        scene = f"{pick(weather_words)} {place} {pick(TIME_WORDS[layout.time_of_day])}"
    side = "left" if move.sign > 0 else "right"
    updown = "up" if move.sign > 0 else "down"
    motion = pick(MOVE_WORDS[move.kind]).format(side=side, updown=updown)
    if move.kind not in ("static", "whip_pan", "handheld"):
        motion = f"{move.speed_word} {motion}"
    caption = f"{scene}, {camera_height_word(height)}, {motion}, {lens_word(move.lens_mm)}"
    labels = {"time_of_day": layout.time_of_day, "weather": layout.weather, "setting": layout.setting,
              "move": move.kind, "place": place, "camera_height": camera_height_word(height),
              "lens": lens_word(move.lens_mm), "lens_mm": f"{move.lens_mm:.1f}", "speed": move.speed_word}
    return caption, labels
