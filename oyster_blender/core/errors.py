"""The exceptions both sides raise: each names what is wrong so the panel (or the runtime's reply) can show
it as is."""


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

