"""Live mode: a generator session fed one camera frame at a time, as the server's live worker runs it."""
