"""The pooled HTTP client the gateway uses to reach providers (one per process)."""

from turnout.upstream.base import UpstreamClient, UpstreamResponse

__all__ = ["UpstreamClient", "UpstreamResponse"]
