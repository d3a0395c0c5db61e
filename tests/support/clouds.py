"""Cloud credentials for tests of the cloud providers against the mock: a Google service
account (a fresh RSA key, its key file and the public half the mock verifies with) and AWS
keys, written into the mock's ``--clouds`` file; the mock started with them; the backup
provider every cloud test fails over to; what an OpenAI client's tool-call stream must be."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.procs import Proc, mock_provider, start_mock

PROJECT = "proj-0001"
EMAIL = "gateway@proj-0001.iam.gserviceaccount.com"
AWS_KEY_ID = "AKIAMOCKGATEWAY00001"
AWS_SECRET = "mock/aws/secret/access/key/0000000000001"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def account_file(path: Path, key: rsa.RSAPrivateKey, token_uri: str) -> Path:
    """A service-account key file as Google issues them, its token endpoint the mock's."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "key-0001",
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path


@dataclass
class Cloud:
    """The mock playing the clouds, and the service-account key files that sign in to it
    (``forged``: the same account, signed with a key the mock does not know)."""

    proc: Proc
    account: Path
    forged: Path | None = None

    @property
    def url(self) -> str:
        return self.proc.url


def start_cloud_mock(tmp: Path, clouds: dict[str, Any]) -> Proc:
    """The mock, playing the clouds whose credentials ``clouds`` holds (its --clouds file)."""
    path = tmp / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds))
    return start_mock("--clouds", str(path))


BACKUP = "backup/openai-backup"  # the deployment a failed cloud call fails over to


def backup_provider(mock: Proc) -> dict[str, Any]:
    """The mock's plain OpenAI side, forwarding no client header (x-mock-* stays upstream)."""
    return {**mock_provider(mock), "forward_headers": []}


def with_backup(provider: str, model: str) -> dict[str, Any]:
    """A model served by ``provider`` first and by the ``backup`` provider when it fails."""
    first, second = BACKUP.split("/")
    return {
        "deployments": [
            {"provider": provider, "model": model, "priority": 0},
            {"provider": first, "model": second, "priority": 1},
        ]
    }


def assert_tool_call_streamed(chunks: list[Any]) -> None:
    """An OpenAI client's stream that called ``get_weather`` and ended with its usage."""
    calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert calls and calls[0].function is not None
    assert calls[0].function.name == "get_weather"
    assert chunks[-1].usage is not None
