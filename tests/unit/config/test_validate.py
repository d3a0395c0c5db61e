from __future__ import annotations

from turnout.config.validate import format_path, validate


def test_every_problem_is_reported_at_once() -> None:
    config, problems = validate(
        {
            "server": {"prot": 1},
            "providers": {
                "openai": {"type": "openai", "api_keys": ["k"]},
                "claude": {"type": "anthropic", "api_keys": ["k"], "base_url": "api.anthropic.com"},
                "x": {"type": "opneai", "api_keys": ["k"]},
            },
            "models": {
                "gpt-4o": {
                    "deployments": [
                        {"provider": "openai", "model": "gpt-4o"},
                        {"provider": "opnai", "model": "gpt-4o", "wieght": 2},
                    ]
                },
                "empty": {"deployments": []},
            },
        }
    )
    assert config is None
    text = "\n".join(problems)
    assert "server.prot: unknown key (did you mean 'port'?)" in text
    assert "providers.x.type: unknown provider type 'opneai' (did you mean 'openai'?)" in text
    assert "providers.claude.base_url: must start with http:// or https://" in text
    assert (
        "models.gpt-4o.deployments[1].provider: unknown provider 'opnai' (did you mean 'openai'?)"
        " (known: openai, claude, x)" in text
    )
    assert "models.gpt-4o.deployments[1].wieght: unknown key (did you mean 'weight'?)" in text
    assert "models.empty.deployments:" in text
    assert len(problems) == 6


def test_unknown_key_without_a_close_match_lists_allowed_keys() -> None:
    _, problems = validate({"zzz": 1})
    # Sorted, whatever sections exist: the list grows with the config.
    assert problems[0].startswith("zzz: unknown key (allowed: ")
    allowed = problems[0].split("(allowed: ")[1].rstrip(")").split(", ")
    assert allowed == sorted(allowed)
    assert {"health", "logging", "models", "providers", "routing", "server"} <= set(allowed)


def test_missing_keys_and_types() -> None:
    _, problems = validate({"providers": {"p": {"type": "openai"}}, "server": {"port": "x"}})
    assert "providers.p.api_keys: at least one key is required" in problems
    assert any(p.startswith("server.port:") for p in problems)


def test_format_path() -> None:
    assert (
        format_path(("models", "m", "deployments", 2, "provider"))
        == "models.m.deployments[2].provider"
    )
    assert format_path(()) == "<root>"


def test_provider_headers_cannot_be_framing_or_broken_and_forwarding_them_is_refused() -> None:
    config, problems = validate(
        {
            "providers": {
                "p": {
                    "type": "openai",
                    "api_keys": ["k"],
                    "headers": {"Host": "x", "x-ok": "a\r\nb", "bad name": "v", "x-fine": "1"},
                    "forward_headers": ["host", "x-*", "Authorization", "*"],
                }
            }
        }
    )
    assert config is None
    assert sorted(problems) == [
        "providers.p.forward_headers[0]: 'host' is never forwarded (hop-by-hop, framing, "
        "credentials or set by the gateway; docs/security.md)",
        "providers.p.forward_headers[2]: 'Authorization' is never forwarded (hop-by-hop, "
        "framing, credentials or set by the gateway; docs/security.md)",
        "providers.p.headers.Host: framing and hop-by-hop headers are set by the gateway",
        "providers.p.headers.bad name: not a valid header name",
        "providers.p.headers.x-ok: the value contains control characters (CR, LF, NUL…)",
    ]


def test_a_deployment_names_an_api_its_provider_speaks() -> None:
    providers = {
        "openai": {"type": "openai", "api_keys": ["k"]},
        "claude": {"type": "anthropic", "api_keys": ["k"]},
    }
    models = {
        "gpt-pro": {"deployments": [{"provider": "openai", "model": "x", "api": "responses"}]},
        "odd": {"deployments": [{"provider": "claude", "model": "y", "api": "responses"}]},
    }
    config, problems = validate({"providers": providers, "models": models})
    assert config is None
    assert problems == [
        "models.odd.deployments[0].api: the provider 'claude' (anthropic) does not speak the "
        "responses API"
    ]
    del models["odd"]
    config, problems = validate({"providers": providers, "models": models})
    assert config is not None and not problems


def test_a_refused_url_is_quoted_without_its_credentials() -> None:
    """A config problem reaches the reload's answer, ``GET /admin/config`` and the log: a URL
    it quotes keeps no userinfo and no query value (a ``?key=`` is a credential)."""
    url = "ftp://user:Zx9-userinfo-pw@h.example/v1?key=Zx9-query-secret"
    _, problems = validate(
        {
            "providers": {"x": {"type": "openai-compatible", "base_url": url, "api_keys": ["k"]}},
            "models": {"m": {"deployments": [{"provider": "x"}]}},
        }
    )
    text = "\n".join(problems)
    assert "got 'ftp://***@h.example/v1?key=***'" in text, text
    assert "Zx9" not in text
