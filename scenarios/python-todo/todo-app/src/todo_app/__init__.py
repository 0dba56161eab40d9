"""A tiny in-memory todo HTTP server, stdlib only."""

__version__ = "0.1.0"
