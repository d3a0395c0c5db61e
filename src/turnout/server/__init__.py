"""The gateway's HTTP server side: limits on what a client may make the server hold (header
size and count, slow heads and bodies, idle connections) and the handle that lets a client's
departure cancel its request (docs/security.md)."""

from turnout.server.limits import GONE, TASK, ServerLimits

__all__ = ["GONE", "TASK", "ServerLimits"]
