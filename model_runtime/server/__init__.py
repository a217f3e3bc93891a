"""The runtime server: HTTP API, persistent take queue, and the worker processes that own the models."""
