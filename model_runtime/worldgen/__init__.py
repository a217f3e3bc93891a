"""A world from the notes: the notes reader, the world description to a layout, the `world` command.

docs/world_from_notes.md describes it. bpy is imported only by `blend.py` (the builder's Blender side).
"""
