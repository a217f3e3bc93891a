"""Oyster previs: camera paths and scene notes to generated shots on the timeline.

The bpy-dependent modules are imported inside register(), so the bpy-free helpers
of this package (naming, camera math, track schema, runtime client) can also be
imported by the runtime and by plain tests.
"""
