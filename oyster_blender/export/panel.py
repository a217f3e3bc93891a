"""The Export sub-panel and its operator: runs an `ExportJob` a step a timer tick, with progress and Esc
to cancel (to the end at once in the background)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from ..core.errors import OysterError
from ..polls import allow, no_data, reports_errors
from ..preferences import runtime_settings
from ..settings import runtime_root
from ..ui import SubPanel
from . import ExportJob
from .shots import ExportError, scene_shots


@dataclass
class ExportProgress:
    """The running export as the panel shows it (one at a time)."""
    job: ExportJob | None = None
    message: str = ""


PROGRESS = ExportProgress()


def runtime_command(python: str) -> tuple[str, Path | None]:
    """The runtime's Python and the repository it runs from (`<repo>/.venv/bin/python`), if it is one."""
    if not python:
        raise ExportError("set the runtime's Python in Oyster's preferences: it writes the OTIO, EDL and AAF")
    return python, runtime_root(python)


class OYSTER_OT_export_previs(bpy.types.Operator):
    """Export the previs: mp4 with burn-ins, frames, OTIO, EDL, AAF, cameras, techvis and a review page"""

    bl_idname = "oyster.export_previs"
    bl_label = "Export Previs"

    directory: StringProperty(name="Export Folder", subtype="DIR_PATH",
                              description="Folder that receives previs.mp4, the frames, OTIO, EDL, AAF, cameras, "
                                          "techvis and review.html")
    selected_only: BoolProperty(name="Selected Shots Only", default=False,
                                description="Only the shots whose active take strip is selected in the sequencer")
    runtime_python: StringProperty(name="Runtime Python", options={"HIDDEN", "SKIP_SAVE"},
                                   description="For scripts: the runtime's Python instead of the preferences' one")

    _timer: bpy.types.Timer | None = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = no_data(context) or (None if len(context.scene.oyster.shots) else
                                      "add a shot and generate a take first")
        return allow(cls, reason or ("an export is running" if PROGRESS.job is not None else None))

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    @reports_errors
    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self.directory:
            self.report({"ERROR"}, "choose an export folder")
            return {"CANCELLED"}
        python, root = runtime_command(self.runtime_python or runtime_settings(context).python)
        job = ExportJob(context.scene, scene_shots(context.scene, self.selected_only),
                        Path(bpy.path.abspath(self.directory)), python, root)
        PROGRESS.job, PROGRESS.message = job, ""
        if bpy.app.background or context.window is None:  # no event loop to wait in: run to the end
            while not job.finished:
                if not self._step(context):
                    return {"CANCELLED"}
            return self._finish(context)
        self._timer = context.window_manager.event_timer_add(0.01, window=context.window)
        context.window_manager.modal_handler_add(self)
        context.window_manager.progress_begin(0, 1)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type == "ESC":
            PROGRESS.job.abort()
            PROGRESS.message = "export cancelled: the files written so far are complete"
            self.report({"WARNING"}, PROGRESS.message)
            return self._end(context, {"CANCELLED"})
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not self._step(context):
            return self._end(context, {"CANCELLED"})
        context.window_manager.progress_update(PROGRESS.job.progress)
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        return self._finish(context) if PROGRESS.job.finished else {"RUNNING_MODAL"}

    def _step(self, context: bpy.types.Context) -> bool:
        job = PROGRESS.job
        try:
            job.step()
        except (OysterError, OSError, RuntimeError) as error:  # RuntimeError: a Blender operator refused
            job.abort()
            PROGRESS.message = f"export failed at {job.label}: {error}"
            self.report({"ERROR"}, PROGRESS.message)
            if self._timer is None:  # not modal: nothing else will end the job
                PROGRESS.job = None
            return False
        return True

    def _finish(self, context: bpy.types.Context) -> set[str]:
        PROGRESS.message = f"exported to {PROGRESS.job.out}"
        self.report({"INFO"}, PROGRESS.message)
        return self._end(context, {"FINISHED"})

    def _end(self, context: bpy.types.Context, result: set[str]) -> set[str]:
        PROGRESS.job = None
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            context.window_manager.progress_end()
            self._timer = None
        return result


class OYSTER_PT_export(SubPanel, bpy.types.Panel):
    """Previs export to editorial"""

    bl_label = "Export"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        job = PROGRESS.job
        if job is not None:
            layout.progress(factor=job.progress, type="BAR", text=f"{job.label} (Esc cancels)")
            return
        row = layout.row(align=True)
        row.operator("oyster.export_previs", icon="RENDER_ANIMATION").selected_only = False
        row.operator("oyster.export_previs", text="Selected", icon="RESTRICT_SELECT_OFF").selected_only = True
        if PROGRESS.message:
            layout.label(text=PROGRESS.message, icon="INFO")


classes = (OYSTER_OT_export_previs, OYSTER_PT_export)


register, _unregister_classes = bpy.utils.register_classes_factory(classes)



def unregister() -> None:
    _unregister_classes()
    PROGRESS.job, PROGRESS.message = None, ""
