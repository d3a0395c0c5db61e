"""Wire protocols: pure request/response/stream/error translation to and from the IR.

One sub-package per protocol (``openai``, ``anthropic``, ``gemini``), each exposing the same
modules: ``request`` and ``response`` (``to_ir``/``from_ir``), ``stream`` (``StreamDecoder``,
``StreamEncoder``) and ``errors`` (``render``, ``render_stream``, ``parse``).
"""

PROTOCOLS = ("openai", "anthropic", "gemini")

__all__ = ["PROTOCOLS"]
