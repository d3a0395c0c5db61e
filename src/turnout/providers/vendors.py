"""Named OpenAI-compatible vendors: OpenRouter, Groq, Mistral, DeepSeek, Together.

Each speaks the OpenAI protocol through :class:`~turnout.providers.openai.OpenAIProvider`; what
makes it a type of its own is what this file says about it: its default base URL (so a config
needs only a key), the operations it serves, and the error rules that tell its answers apart
(``openai-compatible`` knows none of these). The rules are written from each vendor's error
documentation:

- **OpenRouter** answers ``{"error": {"code": <status>, "message", "metadata"}}``. A 403 is a
  moderation or guardrail refusal of the request (``metadata.reasons`` when flagged), never a
  bad key: it must not take the key out of rotation. 402 (no credits) and 503 (no provider
  available) are covered by their statuses; a too-long prompt is a 400 naming the context length.
- **Groq** uses OpenAI's shape; 498 is its flex tier out of capacity (an overload, retried
  elsewhere), and a request larger than the key's tokens-per-minute limit is a 413 with
  ``code: rate_limit_exceeded`` (the key, not the request, is at fault: another key may serve it).
- **Mistral** reports a too-long prompt as a 400 saying the prompt is "too large for model with
  N maximum context length".
- **DeepSeek**: 402 is an exhausted balance (no_quota by status), 503 an overload; a too-long
  prompt is a 400 naming the maximum context length.
- **Together**: 402 is a credit limit (by status); a too-long prompt is a 400 saying the input
  tokens plus ``max_new_tokens`` must stay under the limit.

The operations each serves besides chat, from its API reference: OpenRouter embeddings and
legacy completions; Groq speech, transcriptions and translations; Mistral embeddings,
moderations and transcriptions; Together embeddings, legacy completions, images (generations),
speech and transcriptions; DeepSeek chat only (its completions live outside ``/v1``).

Every vendor keeps OpenAI's own rules too (an ``insufficient_quota`` or
``context_length_exceeded`` code means the same wherever it appears).
"""

from __future__ import annotations

from turnout.providers.descriptor import ProviderType, rules, template
from turnout.providers.openai import OPENAI_RULES, OpenAIProvider

CHAT, EMBEDDINGS, COMPLETIONS = "chat", "embeddings", "completions"
MODERATIONS, IMAGES, SPEECH = "moderations", "images", "speech"
TRANSCRIPTIONS, TRANSLATIONS = "transcriptions", "translations"
_CONTEXT = {"status": 400, "reason": "context_length"}


def _vendor(
    name: str,
    base_url: str,
    key_env: str,
    otel_name: str,
    operations: frozenset[str],
    own_rules: tuple[dict[str, object], ...],
    summary: str,
) -> ProviderType:
    return ProviderType(
        name=name,
        protocol="openai",
        provider=OpenAIProvider,
        base_url=base_url,
        error_rules=(*rules(*own_rules), *OPENAI_RULES),
        operations=operations,
        template=template(name, base_url, key_env),
        otel_name=otel_name,
        key_env=key_env,
        summary=summary,
    )


OPENROUTER = _vendor(
    "openrouter",
    "https://openrouter.ai/api/v1",
    "OPENROUTER_API_KEY",
    "openrouter",
    frozenset({CHAT, EMBEDDINGS, COMPLETIONS}),
    (
        {"status": 403, "path": "error.metadata.reasons", "reason": "content_filter"},
        {"status": 403, "path": "error.message", "match": "(?i)flagged|moderation",
         "reason": "content_filter"},
        {"status": 403, "reason": "bad_request", "priority": 40},
        {**_CONTEXT, "path": "error.message", "match": "(?i)maximum context length"},
    ),
    "OpenRouter: many vendors' models behind one OpenAI-compatible API",
)  # fmt: skip
GROQ = _vendor(
    "groq",
    "https://api.groq.com/openai/v1",
    "GROQ_API_KEY",
    "groq",
    frozenset({CHAT, SPEECH, TRANSCRIPTIONS, TRANSLATIONS}),
    (
        {"status": 498, "reason": "overloaded"},
        {"status": 413, "path": "error.code", "match": "^rate_limit_exceeded$",
         "reason": "rate_limited"},
        {**_CONTEXT, "path": "error.message",
         "match": "(?i)reduce the length of the messages|context length"},
    ),
    "Groq: open models on LPUs, OpenAI-compatible",
)  # fmt: skip
MISTRAL = _vendor(
    "mistral",
    "https://api.mistral.ai/v1",
    "MISTRAL_API_KEY",
    "mistral_ai",
    frozenset({CHAT, EMBEDDINGS, MODERATIONS, TRANSCRIPTIONS}),
    ({**_CONTEXT, "match": "(?i)too large for model with \\d+ maximum context length"},),
    "Mistral AI (La Plateforme)",
)
DEEPSEEK = _vendor(
    "deepseek",
    "https://api.deepseek.com/v1",
    "DEEPSEEK_API_KEY",
    "deepseek",
    frozenset({CHAT}),
    ({**_CONTEXT, "path": "error.message", "match": "(?i)maximum context length"},),
    "DeepSeek",
)
TOGETHER = _vendor(
    "together",
    "https://api.together.xyz/v1",
    "TOGETHER_API_KEY",
    "together",
    frozenset({CHAT, EMBEDDINGS, COMPLETIONS, IMAGES, SPEECH, TRANSCRIPTIONS}),
    (
        {**_CONTEXT, "path": "error.message",
         "match": "(?i)max_new_tokens` must be <=|maximum context length|context length"},
    ),
    "Together AI: open models, OpenAI-compatible",
)  # fmt: skip
VENDORS = (OPENROUTER, GROQ, MISTRAL, DEEPSEEK, TOGETHER)
