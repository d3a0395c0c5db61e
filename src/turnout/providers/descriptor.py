"""What the gateway knows about one provider type, in one object: :class:`ProviderType`.

A provider type is what a config's ``type:`` names (``openai``, ``anthropic``, ``groq``...).
Each is defined in its provider module, next to the class that speaks to it, and listed once in
:mod:`turnout.providers.registry`; everything else reads it from there: the config schema and
validator (known names, whether a base URL or a key is required), the compiler (the default base
URL), the error classifier (the type's default error rules), tracing (the OpenTelemetry provider
name), ``turnout config create`` (the template) and zero-config mode (the key's environment
variable and the models it serves). All of that is read when a config is compiled or a provider
is built, never per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from turnout.config.compile import ErrorRuleSpec, compile_rule
from turnout.config.providers import ErrorRule

if TYPE_CHECKING:
    from turnout.config.compile import ProviderSpec
    from turnout.providers.base import Provider
    from turnout.upstream.base import UpstreamClient


@dataclass(frozen=True, slots=True)
class Auth:
    """How a key travels upstream: one header, its value the key behind a prefix."""

    header: str  # "authorization", "x-api-key", "x-goog-api-key", "api-key"
    prefix: str = ""  # "Bearer "

    def headers(self, key: str) -> list[tuple[str, str]]:
        return [(self.header, self.prefix + key)]


BEARER = Auth("authorization", "Bearer ")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderType:
    name: str  # the config's `type:`
    protocol: str  # the wire protocol spoken upstream (a registered protocol's name)
    # Other protocols the upstream speaks too: their calls are forwarded as bytes (to the
    # provider class's path for the operation), never translated. OpenAI: the Responses API.
    also_speaks: frozenset[str] = frozenset()
    # The class that makes one upstream attempt: builds URLs (its ``url`` hook) from the base
    # URL, the operation and the model, and sends; everything else comes from here.
    provider: Callable[[ProviderSpec, UpstreamClient], Provider]
    base_url: str | None  # default base URL; None: every config must give one
    auth: Auth = BEARER
    error_rules: tuple[ErrorRuleSpec, ...] = ()  # under the config's own (routing/classify.py)
    # Capabilities: the operations the upstream serves natively (None: all of its protocol's).
    # Another operation is refused with a 400 before anything is sent.
    operations: frozenset[str] | None = None
    needs_key: bool = True
    template: str  # the `turnout config create provider:<name>` body (YAML under the name)
    otel_name: str  # gen_ai.provider.name in traces
    key_env: str | None = None  # the environment variable its key conventionally lives in
    zero_config_models: tuple[str, ...] = ()  # served from key_env when no config is given
    summary: str = ""  # one line for docs and `--help`
    # The type's own settings (a closed pydantic model): a config's `options:` block is checked
    # against it by the validator and compiled into ProviderSpec.options. None: no options.
    options: type[BaseModel] | None = None
    # Dotted paths inside ``options`` that name a place the gateway connects to (Azure's
    # ``entra.authority``): a provider written through the admin API must have them pass the
    # outbound policy like its base URL (turnout.live.managed).
    option_destinations: tuple[str, ...] = ()
    # What the type reads from the gateway's own host, which a provider written through the
    # admin API may not use (turnout.live.managed): ``host_credentials`` names the credentials
    # it signs with when ``api_keys`` is empty (Application Default Credentials, the AWS chain),
    # then sent only to its own endpoint, never to a ``base_url`` the admin API gives;
    # ``key_files``: each key is a path on the host; ``file_options``: options naming files.
    host_credentials: str | None = None
    key_files: bool = False
    file_options: tuple[str, ...] = ()


def rules(*rules: dict[str, Any]) -> tuple[ErrorRuleSpec, ...]:
    """Default error rules, written as the config writes them (priority 50: a config's own
    rules, priority 100 by default, win)."""
    return tuple(compile_rule(ErrorRule.model_validate({"priority": 50, **r})) for r in rules)


def template(name: str, base_url: str, key_env: str | None, comment: str = "") -> str:
    """The usual template: type, base URL, one key from the environment."""
    key = f"${{{key_env}}}" if key_env else "none"
    note = f"   # {comment}" if comment else ""
    return f'type: {name}\n  base_url: "{base_url}"{note}\n  api_keys: ["{key}"]'


__all__ = ["BEARER", "Auth", "ProviderType", "rules", "template"]
