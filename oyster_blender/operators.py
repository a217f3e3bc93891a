"""Operators: thin wrappers over `api` and the runtime session, each with a poll that says why it is unavailable."""
from __future__ import annotations

import shutil
from pathlib import Path

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty

from . import api, in_view, runtime_session, timeline, world_build
from .core.errors import OysterError
from .polls import allow, no_active_shot, no_data, reports_errors
from .preferences import runtime_settings
from .take_files import TAKE_JSON, continue_request


class OYSTER_OT_add_shot(bpy.types.Operator):
    """Add a shot from the scene camera and the timeline range"""

    bl_idname = "oyster.add_shot"
    bl_label = "Add Shot"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, no_data(context) or (None if context.scene.camera is not None else
                                               "the scene has no camera: set one in Scene Properties > Camera"))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        shot = api.add_shot(context.scene)
        self.report({"INFO"}, f"added shot '{shot.name}' ({shot.frame_start}-{shot.frame_end})")
        return {"FINISHED"}


class OYSTER_OT_remove_shot(bpy.types.Operator):
    """Remove the active shot (its takes on disk are kept)"""

    bl_idname = "oyster.remove_shot"
    bl_label = "Remove Shot"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, no_active_shot(context))

    def execute(self, context: bpy.types.Context) -> set[str]:
        api.remove_shot(context.scene, api.active_shot(context.scene))
        return {"FINISHED"}


class OYSTER_OT_shots_from_markers(bpy.types.Operator):
    """Add or update a shot for each timeline marker bound to a camera"""

    bl_idname = "oyster.shots_from_markers"
    bl_label = "Shots from Camera Markers"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, no_data(context) or (
            None if any(m.camera is not None for m in context.scene.timeline_markers)
            else "no timeline marker is bound to a camera (Marker > Bind Camera to Markers)"))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        shots = api.add_marker_shots(context.scene)
        self.report({"INFO"}, f"{len(shots)} shots from camera markers")
        return {"FINISHED"}


class OYSTER_OT_save_camera_track(bpy.types.Operator):
    """Write the active shot's camera track (JSON) into its folder in the output folder"""

    bl_idname = "oyster.save_camera_track"
    bl_label = "Save Camera Track"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, no_active_shot(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        shot = api.active_shot(context.scene)
        api.check_shot(context.scene, shot)  # the shot's own problem first: it is the more specific one
        root = api.output_root(bpy.data.filepath, runtime_settings(context).output_folder)
        path = api.write_camera_track(context.scene, shot, root)
        self.report({"INFO"}, f"camera track written to {path}")
        return {"FINISHED"}


class OYSTER_OT_add_notes_event(bpy.types.Operator):
    """Key scene notes at the current frame of the active shot: from there on they replace the shot's notes"""

    bl_idname = "oyster.add_notes_event"
    bl_label = "Add Notes Event"
    bl_options = {"REGISTER", "UNDO"}

    notes: StringProperty(name="Notes", options={"SKIP_SAVE"},
                          description="The notes from this frame on (empty: start from the notes in force there)")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, no_active_shot(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        shot = api.active_shot(scene)
        frame = scene.frame_current
        api.add_notes_event(scene, shot, frame, self.notes or api.notes_at(shot, frame))
        return {"FINISHED"}


class OYSTER_OT_remove_notes_event(bpy.types.Operator):
    """Remove the selected notes event of the active shot"""

    bl_idname = "oyster.remove_notes_event"
    bl_label = "Remove Notes Event"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = no_active_shot(context)
        if reason is None:
            shot = api.active_shot(context.scene)
            if not 0 <= shot.active_notes_event_index < len(shot.notes_events):
                reason = "select a notes event"
        return allow(cls, reason)

    def execute(self, context: bpy.types.Context) -> set[str]:
        shot = api.active_shot(context.scene)
        api.remove_notes_event(context.scene, shot, shot.notes_events[shot.active_notes_event_index].frame)
        return {"FINISHED"}


class OYSTER_OT_notes_events_from_markers(bpy.types.Operator):
    """Key the active shot's notes events from timeline markers named 'notes: <notes>' within its frames"""

    bl_idname = "oyster.notes_events_from_markers"
    bl_label = "Notes Events from Markers"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, no_active_shot(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        count = api.notes_events_from_markers(context.scene, api.active_shot(context.scene))
        self.report({"INFO"}, f"{count} notes events from markers")
        return {"FINISHED"}


class OYSTER_OT_start_runtime(bpy.types.Operator):
    """Start the model runtime of the preferences (or connect to the studio runtime at its address)"""

    bl_idname = "oyster.start_runtime"
    bl_label = "Start Runtime"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, "the runtime is running" if runtime_session.current() is not None
                     else runtime_session.unavailable_reason(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        runtime_session.start(context)
        return {"FINISHED"}


class OYSTER_OT_stop_runtime(bpy.types.Operator):
    """Stop the runtime (a take it is making is marked interrupted; its frames so far stay)"""

    bl_idname = "oyster.stop_runtime"
    bl_label = "Stop Runtime"

    @classmethod
    def poll(cls, _context: bpy.types.Context) -> bool:
        return allow(cls, None if runtime_session.current() is not None else "no runtime is running")

    def execute(self, _context: bpy.types.Context) -> set[str]:
        runtime_session.stop()
        return {"FINISHED"}


class OYSTER_OT_generate_take(bpy.types.Operator):
    """Generate a new take of the active shot with the model runtime (started first if none runs); a shot whose
    camera sees nothing of the scene is refused with an offer to build a world from its notes"""

    bl_idname = "oyster.generate_take"
    bl_label = "Generate"

    paint_sky: BoolProperty(name="Generate Sky Anyway", options={"SKIP_SAVE"},
                            description="Paint the shot even when nothing of the scene is in its camera's view")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, no_active_shot(context) or runtime_session.unavailable_reason(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        shot = api.active_shot(scene)
        first, scratch, painter = None, None, False
        try:
            api.check_shot(scene, shot)  # the shot's own problem first: it is the more specific one
            root = api.output_root(bpy.data.filepath, runtime_settings(context).output_folder)
            request = api.shot_request(scene, shot, root)
            painter = shot.use_blockout and api.paints_blockout(shot, scene)
            if painter and not self.paint_sky:  # passes of pure sky: say so and offer a world instead
                reason = in_view.nothing_in_view(scene, shot, world_build.world_collection(scene) is not None)
                if reason is not None:
                    in_view.NOTHING_IN_VIEW[(scene.name, shot.name)] = reason
                    raise OysterError(reason)
            in_view.clear(scene, shot)
            if painter:  # every frame's passes, rendered by the runtime from a copy of the file
                request["blockout"], scratch = api.blockout_copy(scene, shot, root)
            elif shot.use_blockout:
                first = api.blockout_first_frame(scene, shot, root)
                if first is not None:
                    request["first_frame"] = first.request()
                    scratch = first.folder
            runtime_session.submit(context, request, scratch)
        except OysterError:
            if scratch is not None:  # inputs the runtime never got are scratch
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        alone = shot.use_blockout and not painter and first is None
        self.report({"INFO"}, f"shot '{shot.name}' sent to the runtime" + (
            f" (from the notes alone: nothing of the scene in view at frame {shot.frame_start}; Build World from "
            "Notes gives it a layout to paint)" if alone else ""))
        return {"FINISHED"}


def active_take(scene: bpy.types.Scene, shot: bpy.types.PropertyGroup) -> Path | None:
    """The folder of the shot's active take on the timeline (its top unmuted strip), if any."""
    strip = timeline.active_strip(scene, shot.name)
    return timeline.strip_folder(strip) if strip is not None else None


class OYSTER_OT_continue_take(bpy.types.Operator):
    """Make a new take that keeps the active take's frames before the playhead and generates the rest with the
    shot's camera path and notes events as they are now"""

    bl_idname = "oyster.continue_take"
    bl_label = "Continue"

    take_dir: StringProperty(name="Take Folder", subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"},
                             description="The take to continue; empty: the shot's active take on the timeline")
    frame: IntProperty(name="Frame", options={"SKIP_SAVE"},
                       description="First frame to make anew; 0: the current frame")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = no_active_shot(context)
        if reason is None and active_take(context.scene, api.active_shot(context.scene)) is None:
            reason = "no take of this shot on the timeline: generate one first"
        return allow(cls, reason or runtime_session.unavailable_reason(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        shot = api.active_shot(scene)
        parent = Path(self.take_dir) if self.take_dir else active_take(scene, shot)
        frame = self.frame or scene.frame_current
        if parent is None or not (parent / TAKE_JSON).is_file():
            raise OysterError(f"{parent} is not a take folder (no {TAKE_JSON})")
        if not shot.frame_start < frame <= shot.frame_end:
            raise OysterError(f"continue from a frame after the shot's first: {shot.frame_start + 1}-"
                              f"{shot.frame_end} (frame {frame}); put the playhead where the change begins")
        api.check_shot(scene, shot)
        root = api.output_root(bpy.data.filepath, runtime_settings(context).output_folder)
        request = continue_request(parent, api.shot_request(scene, shot, root), frame)
        runtime_session.submit(context, request)
        self.report({"INFO"}, f"continuing {parent.name} of '{shot.name}' from frame {frame}")
        return {"FINISHED"}


class OYSTER_OT_cancel_take(bpy.types.Operator):
    """Cancel a take of the active shot that is queued or being made (its frames so far stay)"""

    bl_idname = "oyster.cancel_take"
    bl_label = "Cancel Take"

    take_id: StringProperty(name="Take", options={"HIDDEN", "SKIP_SAVE"},
                            description="The runtime's take id; empty: every take of the active shot in flight")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = no_active_shot(context)
        if reason is None and runtime_session.current() is None:
            reason = "no runtime is running"
        if reason is None and not runtime_session.TAKES.in_flight(api.active_shot(context.scene).name):
            reason = "no take of this shot is queued or being made"
        return allow(cls, reason)

    def execute(self, context: bpy.types.Context) -> set[str]:
        session = runtime_session.current()
        shot = api.active_shot(context.scene)
        takes = [t for t in runtime_session.TAKES.in_flight(shot.name) if self.take_id in ("", t.take_id)]
        if session is None or not takes:
            self.report({"ERROR"}, f"no take of '{shot.name}' to cancel")
            return {"CANCELLED"}
        for take in takes:
            session.cancel(take.take_id)
        self.report({"INFO"}, f"cancelling {', '.join(t.name for t in takes)}")
        return {"FINISHED"}


classes = (OYSTER_OT_add_shot, OYSTER_OT_remove_shot, OYSTER_OT_shots_from_markers, OYSTER_OT_save_camera_track,
           OYSTER_OT_add_notes_event, OYSTER_OT_remove_notes_event, OYSTER_OT_notes_events_from_markers,
           OYSTER_OT_start_runtime, OYSTER_OT_stop_runtime, OYSTER_OT_generate_take, OYSTER_OT_continue_take,
           OYSTER_OT_cancel_take)

register, unregister = bpy.utils.register_classes_factory(classes)
