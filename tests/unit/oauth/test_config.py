"""``auth: oauth`` in a provider: no API key needed, the profile is required, its secret is
never echoed, and the token header can be chosen."""

from __future__ import annotations

import pytest

from tests.unit.routing.helpers import runtime


def _raw(**provider: object) -> dict[str, object]:
    return {
        "providers": {
            "corp": {"type": "openai-compatible", "base_url": "http://127.0.0.1:9/v1", **provider}
        },
        "models": {"m": {"deployments": [{"provider": "corp"}]}},
    }


def test_oauth_needs_a_profile_not_a_key() -> None:
    profile = {"token_url": "http://127.0.0.1:9/token", "client_id": "c"}
    rt = runtime(_raw(auth="oauth", oauth=profile))
    assert rt.providers["corp"].token_header is None  # the type's own: Bearer
    with pytest.raises(Exception, match="oauth: required"):
        runtime(_raw(auth="oauth"))


def test_the_token_header_and_a_secret_that_is_never_shown() -> None:
    profile = {
        "token_url": "http://127.0.0.1:9/token",
        "client_id": "c",
        "client_secret": "s3cret-value",
        "header": "X-Api-Token",
        "prefix": "",
    }
    rt = runtime(_raw(auth="oauth", oauth=profile))
    assert rt.providers["corp"].token_header == ("x-api-token", "")
    assert "s3cret-value" not in repr(rt.config.providers["corp"])
    with pytest.raises(Exception) as caught:
        runtime(_raw(auth="oauth", oauth={**profile, "client_secret": 5}))
    assert "s3cret" not in str(caught.value)


def test_a_gateway_without_oauth_or_sso_loads_neither_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, turnout.app; from turnout.api.admin import build_admin; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'authlib', 'joserfc'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr
