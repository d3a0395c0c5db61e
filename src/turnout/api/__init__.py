"""Inbound HTTP: raw-ASGI handlers for the hot path, one module per client protocol."""
