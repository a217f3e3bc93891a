"""Exceptions of the extension's API: each names what is wrong so the panel can show it as is."""
import functools


class OysterError(Exception):
    """Base of every error the extension reports to the artist."""


class CameraError(OysterError):
    """The shot's camera is missing, deleted, not a camera, or of a type the model cannot follow."""


class ShotError(OysterError):
    """The shot itself is unusable: empty or reversed range, range outside the scene, bad settings."""


class TrackError(OysterError):
    """A camera track does not match the wire format (docs/camera_track.md)."""


class OutputError(OysterError):
    """The output folder is missing, not writable, or a path would leave it."""


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
