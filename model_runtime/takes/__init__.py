"""The take pipeline: the shot request, take folders on disk, running a take, Continue from frame N and the
session states on disk, and the `generate` command."""
