"""Why an Oyster button is disabled: the reasons operators' and panels' polls share.

Each `no_*` function returns the reason as the artist reads it in the disabled
button's tooltip, or None when nothing is missing; `allow` turns a reason into
an operator poll's answer (panels have no poll message, they test for None).
"""
from __future__ import annotations

import bpy

from . import api


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
