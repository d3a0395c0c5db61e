"""Cloud credentials for tests of the cloud providers against the mock: a Google service
account (a fresh RSA key, its key file and the public half the mock verifies with) and AWS
keys, written into the mock's ``--clouds`` file."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

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
