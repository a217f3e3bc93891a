"""Training and validation data rendered by Blender: procedural scenes, camera moves, shards."""
