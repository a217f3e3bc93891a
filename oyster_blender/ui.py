"""The sidebar panel (3D viewport, N panel, tab "Oyster"): shots, their settings, Generate, takes in
flight with their progress and Cancel, the runtime's status with Start and Stop.

`panel_state` gathers everything the panel shows that is not a plain property,
so drawing stays a list of layout calls and the benchmark can time the work.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import bpy

from . import api, in_view, runtime_session, world_build
from .core.naming import sanitise_name
from .polls import no_active_shot
from .runtime_status import ERROR, READY, STARTING, STATUS
from .take_progress import TakeProgress

STATUS_ICONS = {READY: "CHECKMARK", STARTING: "SORTTIME", ERROR: "ERROR"}
REDRAW_SECONDS = 0.25


@dataclass(frozen=True)
class PanelState:
    """What the panel shows besides properties."""

    has_data: bool
    """False without a scene or without Oyster's data on it (extension not registered)."""
    folder: str = ""
    """The active shot's take folder, relative to the output folder."""
    problem: str | None = None
    """Why the active shot cannot be generated, None when it can."""
    status_icon: str = "INFO"
    status_text: str = ""
    in_flight: tuple[TakeProgress, ...] = ()
    """The active shot's takes queued or being made by this session, oldest first."""
    take_problem: str | None = None
    """The last thing that went wrong with the active shot's takes (refused, failed, cancelled)."""


def panel_state(scene: bpy.types.Scene | None, runtime_problem: str | None = None) -> PanelState:
    """`runtime_problem` (runtime_session.unavailable_reason): why no take can be sent, e.g. what to set
    up in the preferences; it replaces the status line."""
    snap = STATUS.snapshot()
    icon, text = STATUS_ICONS.get(snap.state, "INFO"), snap.message
    if runtime_problem is not None:
        icon, text = "ERROR", runtime_problem
    if scene is None or getattr(scene, "oyster", None) is None:
        return PanelState(False, status_icon=icon, status_text=text)
    shot = api.active_shot(scene)
    if shot is None:
        return PanelState(True, problem="add a shot: the scene camera over the timeline range",
                          status_icon=icon, status_text=text)
    takes = runtime_session.TAKES
    return PanelState(True, f"oyster/{sanitise_name(shot.name)}", api.shot_problem(scene, shot), icon, text,
                      tuple(takes.in_flight(shot.name)), takes.problems.get(shot.name))


class SidebarPanel:
    """Where Oyster's panels live: the 3D viewport's sidebar (N), tab Oyster."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Oyster"


class SubPanel(SidebarPanel):
    """A sub-panel of the Oyster Shots panel."""

    bl_parent_id = "OYSTER_PT_shots"


class OYSTER_UL_shots(bpy.types.UIList):
    """The scene's shots"""

    def draw_item(self, _context, layout, _data, item, _icon, _active_data, _active_prop, _index=0, _flt_flag=0):
        row = layout.row(align=True)
        row.prop(item, "name", text="", emboss=False, icon="SEQUENCE")
        row.label(text=f"{item.frame_start}-{item.frame_end}")
        row.label(text=item.camera.name if item.camera is not None else "no camera",
                  icon="CAMERA_DATA" if item.camera is not None else "ERROR")


class OYSTER_UL_notes_events(bpy.types.UIList):
    """A shot's notes events"""

    def draw_item(self, _context, layout, _data, item, _icon, _active_data, _active_prop, _index=0, _flt_flag=0):
        row = layout.row(align=True)
        row.prop(item, "frame", text="", emboss=False)
        row.prop(item, "notes", text="", emboss=False, icon="TEXT")


class OYSTER_PT_shots(SidebarPanel, bpy.types.Panel):
    """Oyster shots and generation"""

    bl_label = "Oyster Shots"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scene = context.scene
        state = panel_state(scene, runtime_session.unavailable_reason(context))
        if not state.has_data:
            layout.label(text="no scene", icon="ERROR")
            return
        data = scene.oyster
        row = layout.row()
        row.template_list("OYSTER_UL_shots", "", data, "shots", data, "active_shot_index", rows=4)
        column = row.column(align=True)
        column.operator("oyster.add_shot", icon="ADD", text="")
        column.operator("oyster.remove_shot", icon="REMOVE", text="")
        column.separator()
        column.operator("oyster.shots_from_markers", icon="MARKER_HLT", text="")

        shot = api.active_shot(scene)
        if shot is not None:
            column = layout.column()
            column.prop(shot, "camera")
            row = column.row(align=True)
            row.prop(shot, "frame_start")
            row.prop(shot, "frame_end")
            column.prop(shot, "notes")
            column.prop(shot, "seed")
            row = column.row(align=True)
            row.prop(shot, "resolution_x")
            row.prop(shot, "resolution_y")
            column.prop(shot, "fps")
            column.prop(shot, "model")
            row = column.row()
            row.prop(shot, "use_blockout")
            row.prop(shot, "keep_states")
            column.label(text=f"Folder: {state.folder}", icon="FILE_FOLDER")
        if state.problem is not None:
            layout.label(text=state.problem, icon="ERROR")
        row = layout.row(align=True)
        row.scale_y = 1.5
        row.operator("oyster.generate_take", icon="RENDER_ANIMATION")
        row.operator("oyster.continue_take", text=f"Continue from {scene.frame_current}", icon="NEXT_KEYFRAME")
        offer = in_view.offer(scene, shot)
        if offer is not None:  # the last Generate found nothing in view: a world from the notes instead
            box = layout.box()
            for i, piece in enumerate(textwrap.wrap(offer, 56)[:6]):
                box.label(text=piece, icon="INFO" if i == 0 else "BLANK1")
            row = box.row(align=True)
            row.operator("oyster.build_world", icon="WORLD",
                         text="Rebuild World" if world_build.world_collection(scene) is not None
                         else "Build World from Notes")
            row.operator("oyster.generate_take", text="Generate Sky Anyway", icon="LIGHT_SUN").paint_sky = True
        for take in state.in_flight:
            row = layout.row(align=True)
            row.progress(factor=take.fraction, type="BAR",
                         text=f"{take.name} {take.state} {take.frames_done}/{take.frames_total}")
            row.operator("oyster.cancel_take", text="", icon="CANCEL").take_id = take.take_id
        if state.take_problem is not None:
            layout.label(text=state.take_problem, icon="ERROR")
        row = layout.row(align=True)
        row.operator("oyster.save_camera_track", icon="EXPORT")
        row = layout.row(align=True)
        row.label(text=state.status_text, icon=state.status_icon)
        if runtime_session.current() is None:
            row.operator("oyster.start_runtime", text="", icon="PLAY")
        else:
            row.operator("oyster.stop_runtime", text="", icon="PAUSE")


class OYSTER_PT_notes_events(SubPanel, bpy.types.Panel):
    """Scene notes keyed on the timeline: from each event's frame on, its notes replace the shot's"""

    bl_label = "Notes Events"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return no_active_shot(context) is None

    def draw(self, context: bpy.types.Context) -> None:
        shot = api.active_shot(context.scene)
        row = self.layout.row()
        row.template_list("OYSTER_UL_notes_events", "", shot, "notes_events", shot, "active_notes_event_index",
                          rows=3)
        column = row.column(align=True)
        column.operator("oyster.add_notes_event", icon="ADD", text="")
        column.operator("oyster.remove_notes_event", icon="REMOVE", text="")
        column.separator()
        column.operator("oyster.notes_events_from_markers", icon="MARKER_HLT", text="")


_seen_version = -1
_seen_takes_version = -1


def _redraw_on_status_change() -> float:
    """Timer: redraw Oyster's sidebars when the runtime status (it changes on other threads) or a take's
    progress changed."""
    global _seen_version, _seen_takes_version
    version, takes_version = STATUS.snapshot().version, runtime_session.TAKES.version
    if (version, takes_version) != (_seen_version, _seen_takes_version):
        _seen_version, _seen_takes_version = version, takes_version
        for window in bpy.context.window_manager.windows:
            for area in window.screen.areas:
                if area.type == "VIEW_3D":
                    area.tag_redraw()
    return REDRAW_SECONDS


classes = (OYSTER_UL_shots, OYSTER_UL_notes_events, OYSTER_PT_shots, OYSTER_PT_notes_events)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    # Without windows (blender -b, bpy as a module) there is nothing to redraw, and a timer still
    # registered when the bpy module exits hangs the process in its static destructors.
    if not bpy.app.background:
        bpy.app.timers.register(_redraw_on_status_change, first_interval=REDRAW_SECONDS, persistent=True)


def unregister() -> None:
    if bpy.app.timers.is_registered(_redraw_on_status_change):
        bpy.app.timers.unregister(_redraw_on_status_change)
    _unregister_classes()
