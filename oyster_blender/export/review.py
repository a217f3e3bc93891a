"""`review.html` and its thumbnails (`review/`): the page (review_page.py) made from the files the export
wrote, with each shot's thumbnail strip, takes, notes events, techvis summary and file links.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import bpy

from ..core.naming import frame_file_name, sanitise_name
from ..take_files import TAKE_JSON, list_takes
from . import review_page
from .cameras import camera_paths
from .editorial import EDIT_JSON
from .movie import MP4
from .shots import ShotExport

REVIEW = "review.html"
THUMBS_PER_SHOT, THUMB_WIDTH = 6, 192  # the review page's strip of each shot


def _thumbnail(source: Path, target: Path, width: int = THUMB_WIDTH) -> Path:
    """A PNG of `source` scaled to `width` (Blender's image scaling), written whole."""
    image = bpy.data.images.load(str(source), check_existing=False)
    try:
        w, h = image.size
        if w > width:
            image.scale(width, max(1, round(h * width / w)))
        partial = target.with_name(f".{target.stem}.partial.png")
        image.filepath_raw, image.file_format = str(partial), "PNG"
        image.save()
        os.replace(partial, target)
    finally:
        bpy.data.images.remove(image)
    return target


def _strip_frames(shot: ShotExport, count: int = THUMBS_PER_SHOT) -> list[int]:
    length = shot.frame_end - shot.frame_start + 1
    if length <= count:
        return list(range(shot.frame_start, shot.frame_end + 1))
    return sorted({shot.frame_start + round(i * (length - 1) / (count - 1)) for i in range(count)})


def _take_record(take_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((take_dir / TAKE_JSON).read_text())
    except (OSError, ValueError):
        return {}


def _rel(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def write_review(shots: list[ShotExport], out: Path, written: dict[str, Any], fps: float) -> Path:
    """`review.html` and its thumbnails (`review/`), from the files the export wrote (review_page.py)."""
    thumbs_dir = out / "review"
    thumbs_dir.mkdir(parents=True, exist_ok=True)
    figures = {entry["shot"]: entry for entry in written.get("techvis", [])}
    review_shots = []
    for shot in shots:
        stem = sanitise_name(shot.name)
        frames_dir = out / "frames" / shot.clip
        strip = []
        for frame in _strip_frames(shot):
            thumb = _thumbnail(frames_dir / f"{shot.clip}.{frame_file_name(frame)}",
                               thumbs_dir / f"{shot.clip}.{frame_file_name(frame)}")
            strip.append({"frame": frame, "src": _rel(thumb, out)})
        takes = []
        for info in list_takes(shot.take_dir.parent):
            thumb = None
            if info.first_frame is not None:
                thumb = _rel(_thumbnail(info.first_frame, thumbs_dir / f"{stem}_{info.name}.first.png", 96), out)
            takes.append({"name": info.name, "status": info.status, "seed": info.seed, "model": info.model,
                          "notes": info.notes, "thumb": thumb})
        active = next((t for t in takes if t["name"] == shot.take_dir.name), None)
        if active is None:  # a take outside its shot's folder (a script's): shown alone
            record = _take_record(shot.take_dir)
            active = {"name": shot.take_dir.name, "status": record.get("status", "unknown"),
                      "seed": record.get("seed", ""), "model": record.get("model", ""), "notes": shot.notes,
                      "thumb": strip[0]["src"] if strip else None}
        request = _take_record(shot.take_dir).get("request", {})
        events = [{"frame": int(e["frame"]), "notes": str(e["notes"])} for e in request.get("notes_events", [])
                  if isinstance(e, dict) and "frame" in e and "notes" in e]
        paths = camera_paths(out, shot.name)
        files = [("frames", _rel(frames_dir, out) + "/"), ("camera JSON", _rel(paths["track"], out)),
                 ("USD", _rel(paths["usd"], out)), ("FBX", _rel(paths["fbx"], out)),
                 ("Alembic", _rel(paths["abc"], out)),
                 ("techvis CSV", f"techvis/{stem}.csv"), ("techvis JSON", f"techvis/{stem}.json")]
        review_shots.append({
            "id": stem, "name": shot.name, "frame_start": shot.frame_start, "frame_end": shot.frame_end,
            "camera": shot.camera.name, "notes": shot.notes, "notes_events": sorted(events, key=lambda e: e["frame"]),
            "thumbs": strip, "active_take": active, "other_takes": [t for t in takes if t is not active],
            "techvis": figures[shot.name]["figures"]["summary"] if shot.name in figures else {}, "files": files})
    review = {"title": f"Previs review: {', '.join(s.name for s in shots)}", "mp4": MP4, "fps": fps,
              "first_frame": shots[0].frame_start, "shots": review_shots,
              "files": [("previs.mp4", MP4), ("OTIO", "previs.otio"), ("EDL", "previs.edl"), ("AAF", "previs.aaf"),
                        ("edit.json", EDIT_JSON)]}
    final, partial = out / REVIEW, out / f".{REVIEW}.partial"
    try:
        partial.write_text(review_page.review_html(review), encoding="utf-8")
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return final
