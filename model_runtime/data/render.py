"""Render one clip: Workbench frames with a z-depth pass, then sky, fog and rain (bpy).

Workbench draws image textures, shadows and cavity at 192x108 in well under
0.1 s a frame (docs/data.md has the measurements against Cycles). The
compositor's File Output node writes each frame's colour (PNG, colour managed)
and depth (EXR, float) to a scratch folder, read back with OpenCV: pixels of a
render result are not readable from Python. Workbench's depth pass is planar
z-depth (distance along the optical axis), as docs/architecture.md wants; a
test checks it against a plane at a known distance.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # must be set before cv2 is imported

import bpy  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from model_runtime.data.captions import caption_for  # noqa: E402
from model_runtime.data.layout import INTERIORS, sample_layout  # noqa: E402
from model_runtime.data.moves import sample_move  # noqa: E402
from model_runtime.data.scenes import BuiltScene, Look, build_scene  # noqa: E402
from model_runtime.data.textures import fbm  # noqa: E402
from model_runtime.painter.passes import read_passes  # noqa: E402
from oyster_blender.passes import camera_track, render_passes  # noqa: E402

SUPERSAMPLE = 2
SKY_DEPTH = 1000.0  # Workbench writes the clip distance (or more) where no surface is hit
LONG_TRACK_FRAMES = 300


@dataclass
class RenderedClip:
    rgb: np.ndarray
    """uint8 (F, H, W, 3)."""
    depth: np.ndarray
    """float32 (F, H, W) z-depth in metres of the blockout passes, inf where there is sky."""
    shade: np.ndarray
    """uint8 (F, H, W) grey shading of the blockout passes."""
    objects: np.ndarray
    """int32 (F, H, W) object ids of the blockout passes (0: sky)."""
    meta: dict
    """scene_seed, caption, labels, move, track and (when asked) long_track."""


def configure_render(scene: bpy.types.Scene, scratch: Path) -> None:
    """Workbench, texture colours, and a compositor that writes colour and depth per frame."""
    scene.render.engine = "BLENDER_WORKBENCH"
    # Workbench's own anti-aliasing costs ~0.15 s a sample on this software GL; rendering at
    # twice the size without it and averaging 2x2 blocks is 4x supersampling for ~0.05 s
    scene.display.render_aa = "OFF"
    scene.render.resolution_percentage = 100 * SUPERSAMPLE
    scene.render.dither_intensity = 0.0  # dither is noise the model would have to learn
    scene.render.film_transparent = False
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_layers[0].use_pass_z = True
    scene.use_nodes = True
    tree = scene.node_tree
    for node in list(tree.nodes):
        tree.nodes.remove(node)
    layers = tree.nodes.new("CompositorNodeRLayers")
    composite = tree.nodes.new("CompositorNodeComposite")
    tree.links.new(layers.outputs["Image"], composite.inputs["Image"])
    out = tree.nodes.new("CompositorNodeOutputFile")
    out.base_path = str(scratch) + os.sep
    out.format.file_format = "OPEN_EXR"
    out.format.color_depth = "32"
    out.format.exr_codec = "NONE"
    out.file_slots.new("depth_")
    out.file_slots.new("rgb_")
    rgb = out.file_slots["rgb_"]
    rgb.use_node_format = False
    rgb.format.file_format = "PNG"
    rgb.format.color_mode = "RGB"
    rgb.format.color_depth = "8"
    rgb.format.compression = 0
    tree.links.new(layers.outputs["Depth"], out.inputs["depth_"])
    tree.links.new(layers.outputs["Image"], out.inputs["rgb_"])


def _ray_directions(track_frame: dict, width: int, height: int) -> np.ndarray:
    """(H, W, 3) unit world directions through pixel centres, from a wire-format frame."""
    c2w = np.array(track_frame["c2w"])
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    cam = np.stack([(u - track_frame["cx"]) / track_frame["fx"], (v - track_frame["cy"]) / track_frame["fy"],
                    np.ones_like(u)], -1)
    d = cam @ c2w[:3, :3].T
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def _sky(dirs: np.ndarray, look: Look) -> np.ndarray:
    """Sky colour (sRGB) by elevation, with a glow around the sun."""
    elev = np.arcsin(np.clip(dirs[..., 2], -1, 1))
    t = np.clip(elev / 0.6, 0, 1)[..., None] ** 0.6
    zen, hor = np.array(look.sky_zenith), np.array(look.sky_horizon)
    sky = hor * (1 - t) + zen * t
    sky = np.where(elev[..., None] < 0, hor * 0.85, sky)
    if look.cloud_cover > 0:  # clouds on a plane 1 km up, looked up by ray direction: they move with the camera
        up = np.maximum(dirs[..., 2], 0.02)
        tile = _cloud_tile(look.cloud_seed)
        n = tile.shape[0]
        u = ((dirs[..., 0] / up * 1000 / 4000 * n) % n).astype(int)
        v = ((dirs[..., 1] / up * 1000 / 4000 * n) % n).astype(int)
        density = np.clip((tile[v, u] - (1 - look.cloud_cover)) * 3, 0, 1) * np.clip(elev / 0.05, 0, 1)
        cloud = np.clip(hor * 1.05 + 0.05, 0, 1)
        sky = sky * (1 - density[..., None]) + cloud * density[..., None]
    glow = np.clip(dirs @ np.array(look.sun_direction), 0, 1) ** 24 * (0.5 if look.fog_density < 0.01 else 0.2)
    return np.clip(sky + glow[..., None] * np.array([1.0, 0.9, 0.7]), 0, 1)


@lru_cache(maxsize=4)
def _cloud_tile(seed: int) -> np.ndarray:
    return fbm(np.random.default_rng(seed), 256, 4, 6)


def post_process(rgb: np.ndarray, depth: np.ndarray, track_frame: dict, look: Look,
                 rng: np.random.Generator) -> np.ndarray:
    """Paint the sky, add distance fog and rain streaks; uint8 in, uint8 out."""
    h, w = depth.shape
    img = rgb.astype(np.float32) / 255
    sky = ~np.isfinite(depth)
    if not look.interior:
        dirs = _ray_directions(track_frame, w, h)
        sky_rgb = _sky(dirs, look)
        img[sky] = sky_rgb[sky]
        fog_rgb = np.array(look.sky_horizon, np.float32)
        radial = np.where(sky, np.inf, depth / np.maximum(dirs @ _forward(track_frame), 1e-3))
        f = 1 - np.exp(-look.fog_density * radial)
        f = np.where(sky, min(1.0, look.fog_density * 15), f)[..., None]  # thick fog also veils the sky
        img = img * (1 - f) + fog_rgb * f
    out = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    if look.rain:
        layer = np.zeros_like(out)
        for _ in range(int(w * h / 300)):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            length = int(rng.integers(h // 16, h // 7))
            cv2.line(layer, (x, y), (x - length // 4, y + length), (200, 205, 215), 1)
        hit = layer.any(-1)
        out[hit] = (0.8 * out[hit] + 0.2 * layer[hit]).astype(np.uint8)
    return out


def _forward(track_frame: dict) -> np.ndarray:
    return np.array(track_frame["c2w"])[:3, 2]


def _blocks(a: np.ndarray) -> np.ndarray:
    """(H*s, W*s, ...) -> (H, W, s*s, ...)."""
    s = SUPERSAMPLE
    h, w = a.shape[0] // s, a.shape[1] // s
    return a.reshape(h, s, w, s, *a.shape[2:]).swapaxes(1, 2).reshape(h, w, s * s, *a.shape[2:])


def _downsample_rgb(rgb: np.ndarray) -> np.ndarray:
    return np.round(_blocks(rgb.astype(np.float32)).mean(2)).astype(np.uint8)


def _downsample_depth(depth: np.ndarray) -> np.ndarray:
    """Mean of the block on smooth surfaces; the nearest sample across edges (never a depth between two objects)."""
    b = _blocks(depth)
    near, far = b.min(2), b.max(2)
    with np.errstate(invalid="ignore"):
        smooth = np.isfinite(far) & (far - near < 0.05 * near)
        return np.where(smooth, b.mean(2), near)


def render_frames(built: BuiltScene, frames: range, scratch: Path) -> tuple[np.ndarray, np.ndarray]:
    """Raw Workbench colour (F, H, W, 3) uint8 and z-depth (F, H, W) float32 (inf: nothing hit)."""
    scene = built.scene
    configure_render(scene, scratch)
    rgbs, depths = [], []
    for frame in frames:
        scene.frame_set(frame)
        bpy.ops.render.render()
        rgb_path, depth_path = scratch / f"rgb_{frame:04d}.png", scratch / f"depth_{frame:04d}.exr"
        bgr = cv2.imread(str(rgb_path), cv2.IMREAD_COLOR)
        depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
        if bgr is None or depth is None:
            raise RuntimeError(f"Blender wrote no output for frame {frame} in {scratch}")
        if depth.ndim == 3:
            depth = depth[..., 0]
        rgb_path.unlink()
        depth_path.unlink()
        rgbs.append(_downsample_rgb(bgr[..., ::-1]))
        depths.append(_downsample_depth(np.where(depth >= SKY_DEPTH, np.inf, depth).astype(np.float32)))
    return np.stack(rgbs), np.stack(depths)


def render_clip(scene_seed: int, move_kind: str, n_frames: int, width: int, height: int, fps: int = 24,
                long_track: bool = False, setting: str | None = None, time_of_day: str | None = None,
                weather: str | None = None) -> RenderedClip:
    """Build the scene of a seed, move its camera, render it, describe it."""
    layout = sample_layout(scene_seed, setting, time_of_day, weather)
    move = sample_move(np.random.default_rng([scene_seed, 0xCA3]), move_kind, layout.stage,
                       layout.setting in INTERIORS)
    keyed = max(n_frames, LONG_TRACK_FRAMES if long_track else 0)
    built = build_scene(layout, move, keyed, fps, width, height)
    # the extension's track, taken before rendering (which doubles the resolution percentage)
    track = camera_track(built.scene, built.camera, 1, n_frames)
    long = camera_track(built.scene, built.camera, 1, LONG_TRACK_FRAMES) if long_track else None
    with tempfile.TemporaryDirectory(prefix="oyster_render_") as tmp:
        rgb, depth = render_frames(built, range(1, n_frames + 1), Path(tmp))
        shade, blockout_depth, objects = blockout_passes(built, n_frames, Path(tmp))
    rng = np.random.default_rng([scene_seed, 0x7A1])
    rgb = np.stack([post_process(rgb[i], depth[i], track["frames"][i], built.look, rng) for i in range(n_frames)])
    caption, labels = caption_for(layout, move, np.random.default_rng([scene_seed, 0xCAF]))
    meta = {"scene_seed": scene_seed, "caption": caption, "labels": labels, "move": move.kind, "track": track}
    if long is not None:
        meta["long_track"] = long
    return RenderedClip(rgb, np.where(blockout_depth > 0, blockout_depth, np.inf), shade, objects, meta)


def blockout_passes(built: BuiltScene, n_frames: int, scratch: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The painter's input, made by the product's own passes renderer: shading (F, H, W) uint8, z-depth
    (F, H, W) float32 with sky 0 and object ids (F, H, W) int32 (every clip has the object pass, so a
    shard's clips stack), at the track's size."""
    scene = built.scene
    size = (scene.render.resolution_x, scene.render.resolution_y)
    files = render_passes(scene, built.camera, range(1, n_frames + 1), size, scratch, objects=True)
    frames = read_passes(files.folder, list(files.frames), *size)
    return (np.stack([f.shade for f in frames]), np.stack([f.depth for f in frames]),
            np.stack([f.object for f in frames]))

