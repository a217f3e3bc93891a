"""The contracts the extension and the runtime share: standard library only, never bpy.

- `track_schema`: the camera-track wire format (docs/camera_track.md), its JSON Schema and validator;
- `camera_math`: Blender camera settings to pinhole intrinsics, poses in OpenCV convention;
- `naming`: shot, take and frame file names, sanitising, take numbers;
- `errors`: the exceptions both sides raise (OysterError and its kinds).

The runtime imports the extension only through this package (and `oyster_blender.passes`, the one bpy
module it runs in a child Blender: the blockout passes and the camera track); `tests/test_core.py` imports
every module here with bpy absent.
"""
