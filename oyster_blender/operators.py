"""Operators: thin wrappers over `api`, each with a poll that says why it is unavailable."""
from __future__ import annotations

import bpy

from . import api
from .errors import OysterError
from .preferences import runtime_settings
from .runtime_status import STATUS


def _has_shots_data(cls: type, context: bpy.types.Context) -> bool:
    if context.scene is None or getattr(context.scene, "oyster", None) is None:
        cls.poll_message_set("no scene with Oyster data")
        return False
    return True


def _has_active_shot(cls: type, context: bpy.types.Context) -> bool:
    if not _has_shots_data(cls, context):
        return False
    if api.active_shot(context.scene) is None:
        cls.poll_message_set("add a shot first")
        return False
    return True


class OYSTER_OT_add_shot(bpy.types.Operator):
    """Add a shot from the scene camera and the timeline range"""

    bl_idname = "oyster.add_shot"
    bl_label = "Add Shot"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not _has_shots_data(cls, context):
            return False
        if context.scene.camera is None:
            cls.poll_message_set("the scene has no camera: set one in Scene Properties > Camera")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            shot = api.add_shot(context.scene)
        except OysterError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"added shot '{shot.name}' ({shot.frame_start}-{shot.frame_end})")
        return {"FINISHED"}


class OYSTER_OT_remove_shot(bpy.types.Operator):
    """Remove the active shot (its takes on disk are kept)"""

    bl_idname = "oyster.remove_shot"
    bl_label = "Remove Shot"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _has_active_shot(cls, context)

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
        if not _has_shots_data(cls, context):
            return False
        if not any(m.camera is not None for m in context.scene.timeline_markers):
            cls.poll_message_set("no timeline marker is bound to a camera (Marker > Bind Camera to Markers)")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            shots = api.add_marker_shots(context.scene)
        except OysterError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{len(shots)} shots from camera markers")
        return {"FINISHED"}


class OYSTER_OT_save_camera_track(bpy.types.Operator):
    """Write the active shot's camera track (JSON) into its folder in the output folder"""

    bl_idname = "oyster.save_camera_track"
    bl_label = "Save Camera Track"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _has_active_shot(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        shot = api.active_shot(context.scene)
        try:
            api.check_shot(context.scene, shot)  # the shot's own problem first: it is the more specific one
            root = api.output_root(bpy.data.filepath, runtime_settings(context).output_folder)
            path = api.write_camera_track(context.scene, shot, root)
        except OysterError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"camera track written to {path}")
        return {"FINISHED"}


class OYSTER_OT_generate_take(bpy.types.Operator):
    """Generate a new take of the active shot with the model runtime"""

    bl_idname = "oyster.generate_take"
    bl_label = "Generate"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not _has_active_shot(cls, context):
            return False
        reason = STATUS.unavailable_reason()
        if reason is not None:
            cls.poll_message_set(reason)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        submit = STATUS.snapshot().submit
        if submit is None:  # the runtime went away between poll and click
            self.report({"ERROR"}, STATUS.unavailable_reason() or "the runtime is not ready")
            return {"CANCELLED"}
        shot = api.active_shot(context.scene)
        try:
            api.check_shot(context.scene, shot)
            root = api.output_root(bpy.data.filepath, runtime_settings(context).output_folder)
            request = api.shot_request(context.scene, shot, root)
        except OysterError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        submit(request)  # returns at once: the connection sends it from its own thread
        self.report({"INFO"}, f"shot '{shot.name}' sent to the runtime")
        return {"FINISHED"}


classes = (OYSTER_OT_add_shot, OYSTER_OT_remove_shot, OYSTER_OT_shots_from_markers, OYSTER_OT_save_camera_track,
           OYSTER_OT_generate_take)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
