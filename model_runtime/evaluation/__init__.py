"""Evaluation: every model and baseline against Blender's ground truth, through one harness."""
