"""Add-on preferences: the runtime's interpreter, a remote runtime's address and token, the output folder."""
from __future__ import annotations

import bpy
from bpy.props import StringProperty

from .settings import CHECKOUT, RuntimeSettings, SettingsError, checkout_python, parse_address


class OYSTER_AP_preferences(bpy.types.AddonPreferences):
    """Oyster's preferences."""

    bl_idname = __package__

    runtime_python: StringProperty(
        name="Runtime Python", subtype="FILE_PATH",
        description="Python interpreter of the model runtime's environment (the .venv made by build.py)")
    runtime_address: StringProperty(
        name="Runtime Address", description="host:port of a running runtime; empty to start one locally")
    runtime_token: StringProperty(
        name="Token", subtype="PASSWORD", description="Access token of the remote runtime")
    output_folder: StringProperty(
        name="Output Folder", subtype="DIR_PATH",
        description="Where takes are written (oyster/<shot>/take_NNN); empty for the .blend file's folder")

    def draw(self, _context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "runtime_python")
        if not self.runtime_python and not self.runtime_address:
            default = checkout_python(CHECKOUT)
            layout.label(text=f"empty: {default} (this checkout)" if default else
                         "set this, or a Runtime Address, to generate takes", icon="INFO")
        layout.prop(self, "runtime_address")
        if self.runtime_address:
            layout.prop(self, "runtime_token")
            try:
                parse_address(self.runtime_address)
            except SettingsError as error:
                layout.label(text=str(error), icon="ERROR")
        layout.prop(self, "output_folder")


def runtime_settings(context: bpy.types.Context) -> RuntimeSettings:
    """The preferences as plain data; defaults when the package was registered by a script, not enabled."""
    addon = context.preferences.addons.get(__package__)
    if addon is None:
        return RuntimeSettings()
    prefs = addon.preferences
    return RuntimeSettings(prefs.runtime_python, prefs.runtime_address, prefs.runtime_token, prefs.output_folder)


classes = (OYSTER_AP_preferences,)


register, unregister = bpy.utils.register_classes_factory(classes)
