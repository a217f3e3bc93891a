"""Add-on preferences: the runtime's interpreter, a remote runtime's address and token, the output folder,
and Set Up Runtime (a virtual environment with the runtime wheel, made in the background: runtime_setup.py)."""
from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from .runtime_setup import CANCELLED, DONE, FAILED, RUNNING, RuntimeSetup, SetupRequest
from .settings import CHECKOUT, RuntimeSettings, SettingsError, checkout_python, parse_address

SETUP_FOLDER = "oyster_runtime"
POLL_SECONDS = 0.2


class SetupProgress:
    """The one Set Up Runtime of this Blender session, polled by a timer that writes the preference at the end."""

    def __init__(self) -> None:
        self.setup: RuntimeSetup | None = None
        self.addon = ""
        self._seen = -1
        self.poll = self._poll
        """The `bpy.app.timers` callback (one bound method: timers are looked up by identity)."""

    @property
    def running(self) -> bool:
        return self.setup is not None and self.setup.snapshot().state == RUNNING

    def start(self, setup: RuntimeSetup, addon: str) -> None:
        self.setup, self.addon, self._seen = setup.start(), addon, -1
        if not bpy.app.timers.is_registered(self.poll):
            bpy.app.timers.register(self.poll, first_interval=POLL_SECONDS)

    def _poll(self) -> float | None:
        """The bpy.app.timers callback: redraws on progress; when done, points Runtime Python at the new venv."""
        if self.setup is None:
            return None
        snapshot = self.setup.snapshot()
        if snapshot.version != self._seen:
            self._seen = snapshot.version
            redraw_preferences()
        if snapshot.state == RUNNING:
            return POLL_SECONDS
        if snapshot.state == DONE:
            addon = bpy.context.preferences.addons.get(self.addon)
            if addon is not None:
                addon.preferences.runtime_python = snapshot.python
            redraw_preferences()
        return None

    def stop(self) -> None:
        """Cancel a running setup (the extension is being disabled) and stop polling."""
        if self.setup is not None:
            self.setup.cancel()
            self.setup.join(5.0)
        if bpy.app.timers.is_registered(self.poll):
            bpy.app.timers.unregister(self.poll)


SETUP = SetupProgress()
"""The setup as the preferences show it."""


def redraw_preferences() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


def setup_folder(create: bool) -> Path:
    """Where Set Up Runtime puts the virtual environment: the extension's own user folder (kept across
    extension updates), or Blender's user data files when the package was registered by a script."""
    try:
        base = bpy.utils.extension_path_user(__package__, create=create)
    except ValueError:  # not an extension (`oyster_blender.register()` from a script)
        base = bpy.utils.user_resource("DATAFILES", path="oyster", create=create)
    return Path(base) / SETUP_FOLDER


def absolute(path: str) -> str:
    """A preference path as a file system path (`//` is the .blend file's folder); URLs as they are."""
    path = path.strip()
    return path if "://" in path or not path else str(Path(bpy.path.abspath(path)).expanduser())


class OYSTER_OT_setup_runtime(bpy.types.Operator):
    """Make a virtual environment in Blender's user folder and install the runtime wheel into it (in the
    background); then Runtime Python points at it"""

    bl_idname = "oyster.setup_runtime"
    bl_label = "Set Up Runtime"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if SETUP.running:
            cls.poll_message_set("a setup is running")
            return False
        if context.preferences.addons.get(__package__) is None:
            cls.poll_message_set("enable Oyster as an extension to keep its preferences")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = context.preferences.addons[__package__].preferences
        request = SetupRequest(folder=setup_folder(create=True), source=absolute(prefs.setup_source),
                               python=absolute(prefs.setup_python), reuse_packages=prefs.setup_reuse_packages,
                               pip_options=prefs.setup_pip_options)
        SETUP.start(RuntimeSetup(request), __package__)
        self.report({"INFO"}, f"setting up the runtime in {request.folder}")
        return {"FINISHED"}


class OYSTER_OT_cancel_runtime_setup(bpy.types.Operator):
    """Stop the running Set Up Runtime (the preference stays as it was)"""

    bl_idname = "oyster.cancel_runtime_setup"
    bl_label = "Cancel Setup"

    @classmethod
    def poll(cls, _context: bpy.types.Context) -> bool:
        return SETUP.running

    def execute(self, _context: bpy.types.Context) -> set[str]:
        SETUP.setup.cancel()
        return {"FINISHED"}


class OYSTER_AP_preferences(bpy.types.AddonPreferences):
    """Oyster's preferences."""

    bl_idname = __package__

    runtime_python: StringProperty(
        name="Runtime Python", subtype="FILE_PATH",
        description="Python interpreter of the model runtime's environment: the one Set Up Runtime made, "
                    "or the .venv of a repository (python3 build.py setup)")
    runtime_address: StringProperty(
        name="Runtime Address", description="host:port of a running runtime; empty to start one locally")
    runtime_token: StringProperty(
        name="Token", subtype="PASSWORD", description="Access token of the remote runtime")
    output_folder: StringProperty(
        name="Output Folder", subtype="DIR_PATH",
        description="Where takes are written (oyster/<shot>/take_NNN); empty for the .blend file's folder")
    setup_source: StringProperty(
        name="Runtime Wheel or Index", subtype="FILE_PATH",
        description="The runtime wheel (oyster_runtime-<version>-py3-none-any.whl) or the URL of a package "
                    "index that has oyster-runtime")
    setup_python: StringProperty(
        name="Python for Setup", subtype="FILE_PATH",
        description="A Python 3.11 to make the environment with; empty: python3.11 on PATH, else Blender's own")
    setup_reuse_packages: BoolProperty(
        name="Use the Python's Packages", default=False,
        description="The environment also sees the packages installed in that Python (e.g. a studio Python "
                    "with CUDA torch); pip installs only what is missing")
    setup_pip_options: StringProperty(
        name="Pip Options",
        description="Extra pip install options, e.g. --extra-index-url https://download.pytorch.org/whl/cu124")

    def draw(self, _context: bpy.types.Context) -> None:
        draw_preferences(self, self.layout)


def draw_preferences(prefs: OYSTER_AP_preferences, layout: bpy.types.UILayout) -> None:
    """The preferences into `layout` (a function of both, so a test can draw them into a popover's layout)."""
    layout.prop(prefs, "runtime_python")
    if not prefs.runtime_python and not prefs.runtime_address:
        default = checkout_python(CHECKOUT)
        layout.label(text=f"empty: {default} (this checkout)" if default else
                     "set this (or press Set Up Runtime below), or a Runtime Address, to generate takes",
                     icon="INFO")
    layout.prop(prefs, "runtime_address")
    if prefs.runtime_address:
        layout.prop(prefs, "runtime_token")
        try:
            parse_address(prefs.runtime_address)
        except SettingsError as error:
            layout.label(text=str(error), icon="ERROR")
    layout.prop(prefs, "output_folder")
    draw_setup(prefs, layout.box())


def draw_setup(prefs: OYSTER_AP_preferences, box: bpy.types.UILayout) -> None:
    """Set Up Runtime: its fields, the button (Cancel while it runs), where it installs, and how it went."""
    box.label(text="Set Up Runtime", icon="CONSOLE")
    box.prop(prefs, "setup_source")
    box.prop(prefs, "setup_python")
    row = box.row()
    row.prop(prefs, "setup_reuse_packages")
    row.prop(prefs, "setup_pip_options", text="Pip")
    row = box.row()
    row.operator(OYSTER_OT_setup_runtime.bl_idname, icon="IMPORT")
    if SETUP.running:
        row.operator(OYSTER_OT_cancel_runtime_setup.bl_idname, icon="CANCEL")
    box.label(text=f"into {setup_folder(create=False)}")
    if SETUP.setup is None:
        return
    snapshot = SETUP.setup.snapshot()
    icon = {RUNNING: "SORTTIME", DONE: "CHECKMARK", FAILED: "ERROR", CANCELLED: "CANCEL"}.get(snapshot.state, "INFO")
    first, *rest = snapshot.message.splitlines() or [""]
    box.label(text=first, icon=icon)
    details = rest if snapshot.state == FAILED else list(snapshot.tail[-3:]) if snapshot.state == RUNNING else []
    for line in details:  # a failure's last output lines (pip's reason); while running, its latest lines
        box.label(text=line[:200])


def runtime_settings(context: bpy.types.Context) -> RuntimeSettings:
    """The preferences as plain data; defaults when the package was registered by a script, not enabled."""
    addon = context.preferences.addons.get(__package__)
    if addon is None:
        return RuntimeSettings()
    prefs = addon.preferences
    return RuntimeSettings(prefs.runtime_python, prefs.runtime_address, prefs.runtime_token, prefs.output_folder)


classes = (OYSTER_OT_setup_runtime, OYSTER_OT_cancel_runtime_setup, OYSTER_AP_preferences)

_register, _unregister = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register()


def unregister() -> None:
    SETUP.stop()
    _unregister()
