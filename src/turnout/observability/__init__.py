"""Logs, metrics, traces and request capture — all fed off the request path."""
