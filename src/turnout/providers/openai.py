"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, LM Studio, and the named vendors of
:mod:`turnout.providers.vendors`).

``base_url`` follows the OpenAI SDK convention (it ends in ``/v1``), so the operation's path is
appended as the SDK would append it.
"""

from __future__ import annotations

from turnout.providers.base import HTTPProvider
from turnout.providers.descriptor import ProviderType, rules, template


class OpenAIProvider(HTTPProvider):
    passthrough_headers = frozenset({b"openai-beta"})
    paths = {
        "chat": "/chat/completions",
        "embeddings": "/embeddings",
        "responses": "/responses",
        "input_tokens": "/responses/input_tokens",
        # OpenAI's other JSON operations, forwarded as the client sent them (protocols/openai).
        "completions": "/completions",
        "moderations": "/moderations",
        "images": "/images/generations",
        "speech": "/audio/speech",
        "transcriptions": "/audio/transcriptions",  # a form (protocols/form.py)
        "translations": "/audio/translations",  # a form
        "image_edits": "/images/edits",  # a form
        "image_variations": "/images/variations",  # a form
    }


# OpenAI reports an exhausted quota as a 429 (or 403/400) with code insufficient_quota: a key
# problem, not a rate limit; an over-long prompt and a filtered one have codes of their own.
OPENAI_RULES = rules(
    {"status": [429, 403, 400], "path": "error.code", "match": "^insufficient_quota$",
     "reason": "no_quota"},
    {"status": 400, "path": "error.code", "match": "^context_length_exceeded$",
     "reason": "context_length"},
    {"status": 400, "path": "error.code", "match": "^(content_filter|content_policy_violation)$",
     "reason": "content_filter"},
    {"status": 403, "path": "error.code", "match": "^unsupported_country_region_territory$",
     "reason": "bad_request"},
)  # fmt: skip

OPENAI = ProviderType(
    name="openai",
    protocol="openai",
    also_speaks=frozenset({"responses"}),  # Responses calls pass through; others translate
    provider=OpenAIProvider,
    base_url="https://api.openai.com/v1",
    error_rules=OPENAI_RULES,
    template=template("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    otel_name="openai",
    key_env="OPENAI_API_KEY",
    zero_config_models=(
        *("gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-embedding-*"),
        *("omni-moderation-*", "text-moderation-*", "dall-e-*", "tts-*", "whisper-*"),
        *("davinci-*", "babbage-*"),
    ),
    summary="OpenAI",
)
OPENAI_COMPATIBLE = ProviderType(
    name="openai-compatible",
    protocol="openai",
    provider=OpenAIProvider,
    base_url=None,  # a server of the user's: its URL is required
    error_rules=OPENAI_RULES,
    template=template("openai-compatible", "http://127.0.0.1:8000/v1", None, "vLLM, Ollama, ..."),
    otel_name="openai",
    summary="any OpenAI-compatible server (vLLM, Ollama, LM Studio, ...)",
)
