"""The take browser: a sub-panel of the Oyster tab listing the active shot's takes on disk.

Each take shows its first frame as a thumbnail (`bpy.utils.previews`), its status
and progress, and the notes, seed and model it was made from (its take.json); a
continued take also which of its frames are its parent's and which are new, and
its time against the full take. A take can be made the active one on the
timeline, regenerated with the same seed (the same frames) or a new one,
continued from the playhead, revealed in the file browser, or deleted, which
moves it to `<shot>/.trash/` (never lost by one click).
"""
from __future__ import annotations

import time
from pathlib import Path

import bpy
import bpy.utils.previews
from bpy.props import BoolProperty, StringProperty

from . import api, runtime_session
from .core.errors import OysterError
from .polls import allow, no_active_shot, reports_errors
from .preferences import runtime_settings
from .take_files import TakeInfo, list_takes, read_take_range, regenerate_request, reuse_lines, trash_take
from .timeline import active_strip, remove_take, set_active_take, sync_take_folder
from .ui import SubPanel

LIST_SECONDS = 1.0  # how long a listing of a shot's takes is reused by the panel before the disk is read again
NOTES_CHARS = 80
STATUS_ICONS = {"done": "CHECKMARK", "running": "PLAY", "queued": "SORTTIME", "failed": "ERROR",
                "interrupted": "ERROR", "cancelled": "CANCEL", "unreadable": "ERROR"}

_previews: bpy.utils.previews.ImagePreviewCollection | None = None
_listings: dict[Path, tuple[float, list[TakeInfo]]] = {}


def shot_dir(context: bpy.types.Context, shot: bpy.types.PropertyGroup) -> Path:
    """The shot's folder of takes under the output folder; OysterError when there is none yet."""
    return api.shot_folder(api.output_root(bpy.data.filepath, runtime_settings(context).output_folder), shot.name)


def shot_takes(folder: Path) -> list[TakeInfo]:
    """The shot's takes, newest first, read from disk at most every LIST_SECONDS (the panel redraws often)."""
    now = time.monotonic()
    cached = _listings.get(folder)
    if cached is None or now - cached[0] > LIST_SECONDS:
        cached = (now, list_takes(folder) if folder.is_dir() else [])
        _listings[folder] = cached
    return cached[1]


def thumbnail(path: Path | None) -> int:
    """Icon id of a frame's preview (0 when there is no frame yet); reloaded when the file changes."""
    if path is None or _previews is None:
        return 0
    try:
        key = f"{path}:{path.stat().st_mtime_ns}"
    except OSError:
        return 0
    preview = _previews.get(key) or _previews.load(key, str(path), "IMAGE")
    return preview.icon_id


class _TakeOperator:
    """Operators on one take folder (its absolute path)."""

    take_dir: StringProperty(name="Take Folder", subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})

    def take_path(self) -> Path:
        return Path(self.take_dir)

    def forget_listing(self) -> None:
        _listings.pop(self.take_path().parent, None)


class OYSTER_OT_set_active_take(_TakeOperator, bpy.types.Operator):
    """Show this take on the timeline: top channel of its shot, the shot's other takes muted"""

    bl_idname = "oyster.set_active_take"
    bl_label = "Set Active Take"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        take_range = read_take_range(self.take_path())
        if take_range is None:
            self.report({"ERROR"}, f"{self.take_path()} has no readable take.json")
            return {"CANCELLED"}
        if sync_take_folder(context.scene, self.take_path()) is None:
            self.report({"ERROR"}, f"take {self.take_path().name} has no frames yet")
            return {"CANCELLED"}
        set_active_take(context.scene, take_range.shot, self.take_path().name)
        return {"FINISHED"}


class OYSTER_OT_regenerate_take(_TakeOperator, bpy.types.Operator):
    """Generate this take again from its request: same seed for the same frames, or a new seed"""

    bl_idname = "oyster.regenerate_take"
    bl_label = "Regenerate Take"

    new_seed: BoolProperty(name="New Seed", default=False, description="Draw a new random seed")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, runtime_session.unavailable_reason(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        request = regenerate_request(self.take_path(), self.new_seed)
        runtime_session.submit(context, request)  # returns at once: the connection sends it from its thread
        self.forget_listing()
        self.report({"INFO"}, f"{self.take_path().name} sent again with seed {request['seed']}")
        return {"FINISHED"}


class OYSTER_OT_reveal_take(_TakeOperator, bpy.types.Operator):
    """Open the take's folder in the system's file browser"""

    bl_idname = "oyster.reveal_take"
    bl_label = "Reveal Take Folder"

    def execute(self, _context: bpy.types.Context) -> set[str]:
        if not self.take_path().is_dir():
            self.report({"ERROR"}, f"{self.take_path()} does not exist")
            return {"CANCELLED"}
        bpy.ops.wm.path_open(filepath=str(self.take_path()))
        return {"FINISHED"}


class OYSTER_OT_delete_take(_TakeOperator, bpy.types.Operator):
    """Move the take to its shot's trash folder and take it off the timeline (it can be moved back)"""

    bl_idname = "oyster.delete_take"
    bl_label = "Delete Take"
    bl_options = {"REGISTER"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        return context.window_manager.invoke_confirm(self, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        take_range = read_take_range(self.take_path())
        try:
            moved = trash_take(self.take_path())
        except (OysterError, OSError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if take_range is not None:
            for scene in bpy.data.scenes:
                remove_take(scene, take_range.shot, self.take_path().name)
        self.forget_listing()
        self.report({"INFO"}, f"moved to {moved}")
        return {"FINISHED"}


class OYSTER_OT_load_takes(bpy.types.Operator):
    """Put the active shot's takes from disk on the timeline (e.g. takes made on a render farm)"""

    bl_idname = "oyster.load_takes"
    bl_label = "Load Takes onto Timeline"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, no_active_shot(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        shot = api.active_shot(context.scene)
        folder = shot_dir(context, shot)
        _listings.pop(folder, None)
        placed = [t for t in reversed(shot_takes(folder)) if sync_take_folder(context.scene, t.path) is not None]
        self.report({"INFO"}, f"{len(placed)} takes of '{shot.name}' on the timeline")
        return {"FINISHED"}


class OYSTER_PT_takes(SubPanel, bpy.types.Panel):
    """The active shot's takes"""

    bl_label = "Takes"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return no_active_shot(context) is None

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        shot = api.active_shot(context.scene)
        try:
            folder = shot_dir(context, shot)
        except OysterError as error:
            layout.label(text=str(error), icon="ERROR")
            return
        takes = shot_takes(folder)
        layout.operator("oyster.load_takes", icon="SEQ_SEQUENCER")
        if not takes:
            layout.label(text="no takes yet", icon="INFO")
            return
        active = active_strip(context.scene, shot.name)
        active_take = active.get("oyster_take") if active is not None else None
        for take in takes:
            self.draw_take(layout.box(), take, take.name == active_take)

    @staticmethod
    def draw_take(box: bpy.types.UILayout, take: TakeInfo, is_active: bool) -> None:
        row = box.row()
        icon = thumbnail(take.first_frame)
        if icon:
            row.template_icon(icon_value=icon, scale=3.0)
        column = row.column(align=True)
        column.label(text=f"{take.name}  {take.status}  {take.frames_done}/{take.frames_total}",
                     icon=STATUS_ICONS.get(take.status, "QUESTION"))
        column.label(text=f"seed {take.seed}   {take.model}")
        notes = take.notes if len(take.notes) <= NOTES_CHARS else take.notes[:NOTES_CHARS - 1] + "…"
        column.label(text=notes or "(no notes)")
        for line in reuse_lines(take):
            column.label(text=line, icon="NEXT_KEYFRAME")
        if take.error:
            column.label(text=take.error, icon="ERROR")
        buttons = box.row(align=True)
        directory = str(take.path)
        buttons.operator("oyster.set_active_take", text="Active" if is_active else "Set Active",
                         icon="RESTRICT_VIEW_OFF" if is_active else "RESTRICT_VIEW_ON",
                         depress=is_active).take_dir = directory
        buttons.operator("oyster.regenerate_take", text="Same Seed", icon="FILE_REFRESH").take_dir = directory
        again = buttons.operator("oyster.regenerate_take", text="New Seed", icon="MOD_NOISE")
        again.take_dir, again.new_seed = directory, True
        buttons.operator("oyster.continue_take", text="", icon="NEXT_KEYFRAME").take_dir = directory
        buttons.operator("oyster.reveal_take", text="", icon="FILE_FOLDER").take_dir = directory
        buttons.operator("oyster.delete_take", text="", icon="TRASH").take_dir = directory


classes = (OYSTER_OT_set_active_take, OYSTER_OT_regenerate_take, OYSTER_OT_reveal_take, OYSTER_OT_delete_take,
           OYSTER_OT_load_takes, OYSTER_PT_takes)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    global _previews
    _register_classes()
    _previews = bpy.utils.previews.new()


def unregister() -> None:
    global _previews
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None
    _listings.clear()
    _unregister_classes()
