"""The review page: one static HTML file in the export folder for a director's browser or tablet (no bpy).

`review.html` opens from disk with no server and no network: its style and script are inline, and
everything it shows lies beside it in the export folder, linked by relative paths (the mp4, the
thumbnails under `review/`, the camera, techvis and editorial files). It holds the sequence player
(the mp4; a shot's heading seeks it to the shot), and per shot: its frame range, a strip of
thumbnails, its notes and notes events, the active take and the shot's other takes (status, seed,
model, notes, first frame), its techvis figures and links to its files.

The page's script writes what a test (or a curious reviewer) can read back from the DOM: the
video's `readyState`, `duration` and size as `data-*` attributes once its metadata loads, and how
many images loaded or failed as attributes of `<body>`.
"""
from __future__ import annotations

import html
import json
from typing import Any

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#1d1f21;color:#ddd}
header{padding:12px 20px;background:#111;position:sticky;top:0;z-index:1}
h1{font-size:18px;margin:0 0 8px}h2{font-size:16px;margin:0}h3{font-size:13px;margin:10px 0 4px;color:#aaa}
video{width:100%;max-width:960px;max-height:45vh;background:#000;display:block}
main{padding:12px 20px}a{color:#8ab4f8}
.shot{border:1px solid #333;border-radius:6px;padding:12px;margin:0 0 16px;background:#26282b}
.shot h2 a{color:#fff;text-decoration:none}.range{color:#999;font-weight:normal;margin-left:8px}
.strip{display:flex;gap:4px;overflow-x:auto}.strip figure{margin:0;text-align:center;font-size:11px;color:#999}
.strip img{height:72px;display:block;border-radius:2px}
.cols{display:flex;flex-wrap:wrap;gap:24px}.cols>div{min-width:240px;flex:1}
table{border-collapse:collapse}td,th{padding:1px 10px 1px 0;text-align:left;vertical-align:top}
th{color:#999;font-weight:normal}.take img{height:40px;vertical-align:middle;margin-right:6px}
.active{color:#9fe09f}.files a{margin-right:10px}ul{margin:0;padding-left:18px}
"""

SCRIPT = """
(function(){
  var v=document.getElementById('player');
  function mark(){v.setAttribute('data-ready-state',String(v.readyState));
    v.setAttribute('data-duration',String(v.duration));
    v.setAttribute('data-video-size',v.videoWidth+'x'+v.videoHeight);}
  v.addEventListener('loadedmetadata',mark);v.addEventListener('loadeddata',mark);
  v.addEventListener('error',function(){v.setAttribute('data-error',String(v.error?v.error.code:'unknown'));});
  if(v.readyState>=1)mark();
  var first=Number(document.body.getAttribute('data-first-frame')),fps=Number(document.body.getAttribute('data-fps'));
  document.querySelectorAll('[data-seek]').forEach(function(a){a.addEventListener('click',function(e){
    e.preventDefault();v.currentTime=(Number(a.getAttribute('data-seek'))-first)/fps;v.scrollIntoView();});});
  function count(){var ok=0,bad=0;document.querySelectorAll('img').forEach(function(i){
      if(i.complete&&i.naturalWidth>0)ok++;else if(i.complete)bad++;});
    document.body.setAttribute('data-images-loaded',String(ok));
    document.body.setAttribute('data-images-broken',String(bad));}
  window.addEventListener('load',count);
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _span(value: list[float] | None, unit: str, digits: int = 2) -> str:
    if not value:
        return "&ndash;"
    low, high = value
    if round(low, digits) == round(high, digits):
        return f"{low:.{digits}f} {unit}"
    return f"{low:.{digits}f} &ndash; {high:.{digits}f} {unit}"


def _links(files: list[tuple[str, str]]) -> str:
    return " ".join(f'<a href="{_e(href)}">{_e(label)}</a>' for label, href in files)


def _take_row(take: dict[str, Any], active: bool) -> str:
    thumb = f'<img src="{_e(take["thumb"])}" alt="">' if take.get("thumb") else ""
    badge = ' <span class="active">(active)</span>' if active else ""
    return (f'<tr class="take" data-take="{_e(take["name"])}" data-active="{str(active).lower()}">'
            f'<td>{thumb}{_e(take["name"])}{badge}</td><td>{_e(take["status"])}</td>'
            f'<td>seed {_e(take["seed"])}</td><td>{_e(take["model"])}</td><td>{_e(take["notes"])}</td></tr>')


def _techvis(summary: dict[str, Any]) -> str:
    rows = (("lens", _span(summary.get("lens_mm"), "mm", 1)),
            ("height above ground", _span(summary.get("height_m"), "m")),
            ("crane height range", f'{summary.get("crane_height_range_m", 0):.2f} m'),
            ("tilt", _span(summary.get("tilt_deg"), "&deg;", 1)), ("pan", _span(summary.get("pan_deg"), "&deg;", 1)),
            ("subject on axis", _span(summary.get("subject_m"), "m")),
            ("travel", f'{summary.get("travel_m", 0):.2f} m'),
            ("peak speed", f'{summary.get("peak_speed_m_s", 0):.2f} m/s'))
    keys = ("lens_mm", "height_m", "crane_height_range_m", "tilt_deg", "pan_deg", "subject_m", "travel_m",
            "peak_speed_m_s")
    return "<table class=\"techvis\">" + "".join(
        f'<tr data-figure="{key}"><th>{label}</th><td>{value}</td></tr>'
        for key, (label, value) in zip(keys, rows)) + "</table>"


def _shot(shot: dict[str, Any]) -> str:
    strip = "".join(f'<figure><img src="{_e(t["src"])}" alt="frame {t["frame"]}"><figcaption>{t["frame"]}'
                    f'</figcaption></figure>' for t in shot["thumbs"])
    events = "".join(f'<li data-event-frame="{e["frame"]}">frame {e["frame"]}: {_e(e["notes"])}</li>'
                     for e in shot["notes_events"]) or "<li>none</li>"
    takes = _take_row(shot["active_take"], True) + "".join(_take_row(t, False) for t in shot["other_takes"])
    return f"""
<section class="shot" id="shot-{_e(shot['id'])}" data-shot="{_e(shot['name'])}"
 data-frame-start="{shot['frame_start']}" data-frame-end="{shot['frame_end']}">
<h2><a href="#" data-seek="{shot['frame_start']}">{_e(shot['name'])}</a><span class="range">frames
 {shot['frame_start']}&ndash;{shot['frame_end']} &middot; camera {_e(shot['camera'])}</span></h2>
<div class="strip">{strip}</div>
<div class="cols">
<div><h3>Notes</h3><p class="notes">{_e(shot['notes']) or '&ndash;'}</p>
<h3>Notes events</h3><ul class="events">{events}</ul></div>
<div><h3>Techvis</h3>{_techvis(shot['techvis'])}</div>
</div>
<h3>Takes</h3><table class="takes">{takes}</table>
<h3>Files</h3><p class="files">{_links(shot['files'])}</p>
</section>"""


def review_html(review: dict[str, Any]) -> str:
    """The page for `review`: {title, mp4, fps, first_frame, files: [(label, href)], shots: [...]}.

    Each shot: {id, name, frame_start, frame_end, camera, notes, notes_events: [{frame, notes}],
    thumbs: [{frame, src}], active_take and other_takes: [{name, status, seed, model, notes, thumb}],
    techvis: techvis summary, files: [(label, href)]}. Every href is relative to the page.
    """
    shots = "".join(_shot(s) for s in review["shots"])
    data = json.dumps({"shots": [s["name"] for s in review["shots"]]})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(review['title'])}</title><style>{STYLE}</style></head>
<body data-first-frame="{review['first_frame']}" data-fps="{review['fps']}" data-shot-count="{len(review['shots'])}">
<header><h1>{_e(review['title'])}</h1>
<video id="player" src="{_e(review['mp4'])}" controls preload="metadata" playsinline></video>
<p class="files">{_links(review['files'])}</p></header>
<main>{shots}</main>
<script type="application/json" id="review-data">{html.escape(data, quote=False)}</script>
<script>{SCRIPT}</script>
</body></html>
"""
