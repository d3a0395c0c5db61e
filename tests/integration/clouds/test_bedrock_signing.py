"""SigV4 as Bedrock checks it, recomputed here from the request exactly as the upstream received
it (not with botocore, the gateway's own signer): a model id or inference-profile ARN with
characters that need percent-encoding (``:``, ``/``, a space, non-ASCII, a literal ``%``, dot
segments) is one path segment, and the path that was signed is the path that was sent; the
session token is signed; the clock is the gateway's, whatever headers a client sends through
an operator's broad ``forward_headers``."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import anthropic
import pytest

from tests.integration.clouds.conftest import requests_seen
from tests.support.procs import Proc, start_gateway

KEY_ID = "AKIASIGNING000000001"
SECRET = "signing/aws/secret/access/key/000000000001"
SESSION = "FwoGZXIvYXdzESigningSessionToken0123456789"
MODELS = {
    "arn": "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.x-v1:0",
    "space": "anthropic.model with space",
    "unicode": "anthropic.modèle-ü-v1:0",
    "percent": "anthropic.a%2Fb%2e%2e",
    "dots": "../../anthropic.x",
    "query": "anthropic.x?action=y#frag",
    "tilde": "anthropic.x~y+z=w",
    "dot": ".",  # a whole segment of dots would be removed from the path by URL normalisation
    "dotdot": "..",
}


@pytest.fixture(scope="module")
def gw(hostile: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "routing": {"max_attempts": 1},
        "providers": {
            "bedrock": {
                "type": "bedrock",
                "base_url": hostile.url,
                "api_keys": [f"{KEY_ID}:{SECRET}:{SESSION}"],
                "options": {"region": "eu-west-3", "api": "invoke"},
                "forward_headers": ["*"],  # careless: every client header the rules allow
            },
        },
        "models": {
            name: {"deployments": [{"provider": "bedrock", "model": model}]}
            for name, model in MODELS.items()
        },
    }
    proc = start_gateway(config, tmp_path_factory.mktemp("signing"), ready_within=60)
    yield proc
    proc.stop()


def _uri_encode(value: str) -> str:
    """AWS's UriEncode: every byte but the unreserved characters, upper-case hex."""
    return quote(value, safe="-_.~")


def _head(record: dict[str, Any]) -> tuple[str, str, list[tuple[str, str]]]:
    lines = record["head"].split("\r\n")
    method, target, _ = lines[0].split(" ")
    headers = []
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    return method, target, headers


def _expected_signature(record: dict[str, Any], body_hash: str) -> tuple[str, str]:
    """(signature the request carries, signature SigV4 gives for it as received)."""
    method, target, headers = _head(record)
    auth = dict(headers)["authorization"]
    credential = auth.split("Credential=")[1].split(",")[0]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    carried = auth.split("Signature=")[1].strip()
    path, _, query = target.partition("?")
    # Every service but S3: each segment of the path as sent is URI-encoded once more.
    canonical_uri = "/".join(_uri_encode(s) for s in path.split("/"))
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name, []).append(" ".join(value.split()))
    canonical_headers = "".join(f"{n}:{','.join(values.get(n, []))}\n" for n in signed)
    canonical = "\n".join(
        [method, canonical_uri, query, canonical_headers, ";".join(signed), body_hash]
    )
    _, day, region, service, _ = credential.split("/")
    amz_date = values["x-amz-date"][0]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{SECRET}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return carried, hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_an_odd_model_id_is_one_segment_signed_as_sent(gw: Proc, hostile: Proc, name: str) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=gw.url, max_retries=0)
    client.messages.create(
        model=name,
        max_tokens=8,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={
            "x-amz-date": "20000101T000000Z",  # a client's clock
            "x-amz-security-token": "client-chosen-token",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            "x-amzn-bedrock-trace": "ENABLED",  # an ordinary Bedrock header: still forwarded
        },
    )
    record = next(r for r in reversed(requests_seen(hostile)) if r["path"].endswith("/invoke"))
    _, target, headers = _head(record)
    segments = target.split("?")[0].split("/")
    assert len(segments) == 4 and segments[1] == "model" and segments[3] == "invoke", target
    assert unquote(segments[2]) == MODELS[name]
    names = [n for n, _ in headers]
    for owned in ("x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "host"):
        assert names.count(owned) <= 1, f"{owned} sent {names.count(owned)} times"
    values = dict(headers)
    assert values["x-amz-security-token"] == SESSION
    assert (
        "x-amz-content-sha256" not in values or values["x-amz-content-sha256"] != "UNSIGNED-PAYLOAD"
    )
    assert values.get("x-amzn-bedrock-trace") == "ENABLED"
    sent = dt.datetime.strptime(values["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - sent).total_seconds()) < 3600  # the gateway's clock
    signed = values["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "x-amz-security-token" in signed and "host" in signed
    body_hash = values.get("x-amz-content-sha256") or _body_hash(record)
    carried, expected = _expected_signature(record, body_hash)
    assert carried == expected


def _body_hash(record: dict[str, Any]) -> str:
    digest: str = record["body_sha256"]
    return digest
