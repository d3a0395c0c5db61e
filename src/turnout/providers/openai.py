"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, LM Studio, Together, Groq...).

``base_url`` follows the OpenAI SDK convention (it ends in ``/v1``), so the operation's path is
appended as the SDK would append it.
"""

from __future__ import annotations

from typing import ClassVar

from turnout.providers.base import HTTPProvider
from turnout.types import Call

_PATHS = {"chat": "/chat/completions", "embeddings": "/embeddings"}


class OpenAIProvider(HTTPProvider):
    protocol: ClassVar[str] = "openai"
    passthrough_headers = frozenset({b"openai-beta"})

    def url(self, call: Call, upstream_model: str) -> str:
        return self.spec.base_url + _PATHS[call.operation]
