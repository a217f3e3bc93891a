"""Scene data: the shots, stored in the .blend under one pointer, `Scene.oyster`.

Properties hold what the artist typed, unvalidated, so nothing they enter is
silently cut or clamped away; `api.shot_problem` says what is wrong with a shot
and the panel shows it.
"""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, CollectionProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from . import runtime_session


def _is_camera(_shot: "OYSTER_PG_shot", obj: bpy.types.Object) -> bool:
    return obj.type == "CAMERA"


def _remember_camera(shot: "OYSTER_PG_shot", _context: bpy.types.Context) -> None:
    # Blender clears the pointer when its object is deleted; the name lets the panel say
    # "camera 'CamA' was deleted" instead of "no camera".
    shot.camera_name = shot.camera.name if shot.camera is not None else ""


class OYSTER_PG_notes_event(bpy.types.PropertyGroup):
    """Scene notes keyed on the timeline: from `frame` on, they replace the shot's notes for the model."""

    frame: IntProperty(name="Frame", description="Scene frame from which these notes apply")
    notes: StringProperty(name="Notes", description="What the world becomes from this frame on")


def _runtime_models(_shot: "OYSTER_PG_shot", _context: bpy.types.Context, _text: str) -> list[str]:
    session = runtime_session.current()
    return session.models if session is not None else []


class OYSTER_PG_shot(bpy.types.PropertyGroup):
    """A shot: frames of the scene seen through one camera, with notes for the model."""

    # `name` comes with PropertyGroup: the artist's shot name (its folder name is sanitised)
    camera: PointerProperty(name="Camera", type=bpy.types.Object, poll=_is_camera, update=_remember_camera,
                            description="The camera whose path the model follows")
    camera_name: StringProperty(name="Camera Name", description="Name of the camera last assigned")
    frame_start: IntProperty(name="Start", description="First frame of the shot")
    frame_end: IntProperty(name="End", description="Last frame of the shot (inclusive)")
    notes: StringProperty(name="Notes", description="Scene notes: what the model should show")
    seed: IntProperty(name="Seed", min=0, description="Random seed of the generated take")
    resolution_x: IntProperty(name="Width", min=1, max=8192, default=1920, subtype="PIXEL",
                              description="Width of the generated frames")
    resolution_y: IntProperty(name="Height", min=1, max=8192, default=1080, subtype="PIXEL",
                              description="Height of the generated frames")
    fps: FloatProperty(name="FPS", min=0.001, max=1000.0, default=24.0, description="Frame rate of the shot")
    model: StringProperty(name="Model", default="oyster-painter", search=_runtime_models, search_options={"SUGGESTION"},
                          description="The runtime's model that generates the take (empty: the runtime's default)")
    use_blockout: BoolProperty(name="Start from Blockout", default=True,
                               description="Render the shot's first frame from the scene in Workbench (colour and "
                                           "depth) and give it to the model, so the world starts from the layout "
                                           "(from the notes alone when nothing of the scene is in view)")
    keep_states: BoolProperty(name="Keep States",
                              description="Also keep the model's states beside the take (several MB every 8 frames), "
                                          "so that it can be continued after the runtime restarted")
    notes_events: CollectionProperty(type=OYSTER_PG_notes_event)
    active_notes_event_index: IntProperty(name="Active Notes Event", default=0)


class OYSTER_PG_scene(bpy.types.PropertyGroup):
    """Oyster's data of one scene."""

    shots: CollectionProperty(type=OYSTER_PG_shot)
    active_shot_index: IntProperty(name="Active Shot", default=0)


classes = (OYSTER_PG_notes_event, OYSTER_PG_shot, OYSTER_PG_scene)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Scene.oyster = PointerProperty(type=OYSTER_PG_scene)


def unregister() -> None:
    del bpy.types.Scene.oyster
    _unregister_classes()
