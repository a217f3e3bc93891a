"""Oyster model runtime: the world model, its server and worker, data, training, evaluation."""

__version__ = "0.1.0"
