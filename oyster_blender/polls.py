"""Why an Oyster button is disabled, and what an operator does with an error: what operators and panels share.

Each `no_*` function returns the reason as the artist reads it in the disabled
button's tooltip, or None when nothing is missing; `allow` turns a reason into
an operator poll's answer (panels have no poll message, they test for None).
`reports_errors` wraps an operator's execute so that an OysterError reaches the
artist as a report instead of a traceback.
"""
from __future__ import annotations

import functools

import bpy

from . import api
from .core.errors import OysterError


def allow(cls: type, reason: str | None) -> bool:
    """An operator poll's answer: True without a reason, else False with the reason as its tooltip."""
    if reason is not None:
        cls.poll_message_set(reason)
        return False
    return True


def no_data(context: bpy.types.Context) -> str | None:
    if context.scene is None or getattr(context.scene, "oyster", None) is None:
        return "no scene with Oyster data"
    return None


def no_active_shot(context: bpy.types.Context) -> str | None:
    return no_data(context) or (None if api.active_shot(context.scene) is not None else "add a shot first")


def reports_errors(execute):
    """An operator's execute whose OysterError goes to the artist (status bar and Info log) and cancels the
    operator, instead of a Python traceback. Blender counts the wrapper's own arguments: (self, context)."""
    @functools.wraps(execute)
    def wrapper(self, context):
        try:
            return execute(self, context)
        except OysterError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
    return wrapper
