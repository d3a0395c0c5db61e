"""The bodies of Message Batches the gateway reads: a creation from the client (its
requests' models), a batch object from the upstream (its id, its ``results_url``).

Forward, don't validate: only what the gateway needs is read, and whatever the types, a
client's mistake is a 400 and an upstream's a 502, both in Anthropic's shape."""

from __future__ import annotations

import re
from typing import Any

import orjson

from turnout.errors import BadRequest, UpstreamInvalid
from turnout.names import check_model_name

PREFIX = "/v1/messages/batches"
MAX_REQUESTS = 100_000  # Anthropic's own limit per batch
MAX_MODELS = 64
ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def read_batch(body: bytes) -> tuple[dict[str, Any], list[str]]:
    """The parsed batch and its models in order of first use: every request an object with a
    ``params`` object naming a model the gateway accepts as a name."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    requests = data.get("requests")
    if not isinstance(requests, list) or not 0 < len(requests) <= MAX_REQUESTS:
        raise BadRequest(f"requests: a list of 1 to {MAX_REQUESTS} requests.", param="requests")
    models: dict[str, None] = {}
    for i, item in enumerate(requests):
        params = item.get("params") if isinstance(item, dict) else None
        if not isinstance(params, dict) or not isinstance(params.get("model"), str):
            raise BadRequest(
                f"requests.{i}.params: an object naming a model.", param=f"requests.{i}.params"
            )
        models[check_model_name(params["model"], f"requests.{i}.params.model")] = None
        if len(models) > MAX_MODELS:
            raise BadRequest(f"A batch may name at most {MAX_MODELS} models.", param="requests")
    return data, list(models)


def rewritten(body: bytes, expected: str | None = None) -> tuple[str, bytes]:
    """A batch object from the holder, its ``results_url`` the gateway's own path (relative:
    the SDK joins it to the base URL it was given). An answer that is no batch, or names an id
    that cannot be a path segment, is the upstream's fault."""
    try:
        batch = orjson.loads(body)
    except orjson.JSONDecodeError:
        batch = None
    batch_id = batch.get("id") if isinstance(batch, dict) else None
    if not isinstance(batch_id, str) or ID.fullmatch(batch_id) is None:
        raise UpstreamInvalid("The upstream answered with no valid message batch.")
    if expected is not None and batch_id != expected:
        raise UpstreamInvalid("The upstream answered with another message batch.")
    assert isinstance(batch, dict)
    if batch.get("results_url"):
        batch["results_url"] = f"{PREFIX}/{batch_id}/results"
    return batch_id, orjson.dumps(batch)
