"""The World sub-panel: Build World from Notes on the active shot, its seed, what the notes were understood
to say, Rebuild (bpy; `world_build` does the work)."""
from __future__ import annotations

import textwrap

import bpy
from bpy.props import IntProperty, PointerProperty

from . import api, in_view, world_build
from .core import world_description as wd
from .polls import allow, no_active_shot, reports_errors
from .preferences import runtime_settings
from .ui import SubPanel


class OYSTER_PG_world(bpy.types.PropertyGroup):
    """The world-from-notes settings of a scene."""

    seed: IntProperty(name="World Seed", min=0, description="Chooses what the notes leave open (and which of "
                                                            "the matching worlds); the same notes and seed give "
                                                            "the same world")


def _reason(context: bpy.types.Context) -> str | None:
    reason = no_active_shot(context)
    if reason is None and not api.active_shot(context.scene).notes.strip():
        reason = "the shot has no notes: describe the world first"
    return reason


class OYSTER_OT_build_world(bpy.types.Operator):
    """Build a layout from the active shot's notes into the collection "Oyster World" (the objects the last
    build made are replaced, yours stay); camera words in the notes animate a new camera over the shot"""

    bl_idname = "oyster.build_world"
    bl_label = "Build World from Notes"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return allow(cls, _reason(context))

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        shot = api.active_shot(scene)
        placed = world_build.build_world(scene, shot, scene.oyster_world.seed, runtime_settings(context))
        in_view.clear(scene, shot)  # Generate's offer is taken
        camera = f"; camera '{placed.camera.name}' over {shot.frame_start}-{shot.frame_end}" if placed.camera else \
            "; no camera words: the shot's camera stays"
        self.report({"INFO"}, f"world of {placed.added} objects in '{placed.collection.name}' "
                              f"(replaced {placed.removed}, kept {placed.kept} of yours){camera}")
        for message in placed.description["messages"]:
            self.report({"WARNING"}, message)
        return {"FINISHED"}


class OYSTER_PT_world(SubPanel, bpy.types.Panel):
    """A layout built from the shot's notes, editable like any blockout"""

    bl_label = "World from Notes"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return no_active_shot(context) is None

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scene = context.scene
        description = world_build.description_of(scene)
        row = layout.row(align=True)
        row.prop(scene.oyster_world, "seed")
        row.operator("oyster.build_world", icon="WORLD",
                     text="Rebuild World" if description is not None else "Build World from Notes")
        if description is None:
            return
        box = layout.box()
        for line in wd.summary(description)[:8]:
            for piece in textwrap.wrap(line, 60)[:3]:
                box.label(text=piece)


classes = (OYSTER_PG_world, OYSTER_OT_build_world, OYSTER_PT_world)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Scene.oyster_world = PointerProperty(type=OYSTER_PG_world)


def unregister() -> None:
    del bpy.types.Scene.oyster_world
    _unregister_classes()
