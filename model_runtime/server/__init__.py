"""The runtime server: HTTP API, persistent take queue, and the worker process that owns the models."""
