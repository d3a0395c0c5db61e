"""Rate limits and budgets on one gateway process (memory backend), judged by the official SDKs.

Concurrent calls come from the async SDK clients with retries off; slow answers (the mock's
``x-mock-ttft-ms``) keep calls in flight long enough to overlap. ``priced`` costs exactly
$0.10 per output token and nothing for input, so a call asking for one token costs $0.10. The
other models are priced at zero: a key with a budget is refused a model without a price
(tests/security/test_unpriced_budgets.py).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as genai_errors

from tests.integration.test_auth import ADMIN, MASTER, gm, new_key, tenancy_config
from tests.support.procs import Proc, start_gateway
from tests.support.request_log import request_line
from tests.support.wait import until, until_async

FREE = {"input": 0, "output": 0}
PRICED = {
    "models": {
        "priced": {"input": 0, "output": 100_000},
        **{m: FREE for m in ("gpt-test", "gpt-other", "claude-test", "gemini-test")},
    }
}


def limits_config(mock: Proc, **extra: Any) -> dict[str, Any]:
    config = tenancy_config(mock, pricing=PRICED, **extra)
    config["models"]["priced"] = {"deployments": [{"provider": "oa", "model": "up"}]}
    return config


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(
        # Request lines on: a call's line is written in the same step that settles it.
        limits_config(mock, logging={"requests": True}),
        tmp_path_factory.mktemp("limits"),
        env={"TURNOUT_MASTER_KEY": MASTER},
    )
    yield proc
    proc.stop()


def aclient(url: str, key: str) -> openai.AsyncOpenAI:
    # Hundreds of connections opened at once on a machine the suite keeps busy: the SDK's
    # 5 s connect timeout was seen to expire (the test's own loop starved), not the gateway.
    return openai.AsyncOpenAI(
        api_key=key, base_url=url + "/v1", max_retries=0, timeout=openai.Timeout(120, connect=60)
    )


async def one(
    client: openai.AsyncOpenAI,
    model: str = "gpt-test",
    delay_ms: int = 0,
    tokens: int | None = None,
    **kw: Any,
) -> Any:
    """The raw response of one call, or the SDK's exception."""
    headers = {"x-mock-ttft-ms": str(delay_ms)} if delay_ms else {}
    if tokens is not None:
        headers["x-mock-tokens"] = str(tokens)
    try:
        return await client.chat.completions.with_raw_response.create(
            model=model,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers=headers,
            **kw,
        )
    except openai.APIStatusError as exc:
        return exc


def burst(url: str, key: str, n: int, **kw: Any) -> list[Any]:
    async def go() -> list[Any]:
        client = aclient(url, key)
        try:
            return list(await asyncio.gather(*(one(client, **kw) for _ in range(n))))
        finally:
            await client.close()

    return asyncio.run(go())


def ok(results: list[Any]) -> int:
    return sum(1 for r in results if not isinstance(r, Exception))


def test_requests_per_minute_exact_under_concurrency(gw: Proc) -> None:
    key, _ = new_key(gw, rpm=20)
    results = burst(gw.url, key, 60)
    assert ok(results) == 20
    refused: list[Any] = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, openai.RateLimitError) for r in refused)
    headers = refused[0].response.headers
    assert int(headers["retry-after"]) >= 59
    assert headers["x-ratelimit-limit-requests"] == "20"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-should-retry"] == "true"
    served = [r for r in results if not isinstance(r, Exception)]
    remaining = sorted(int(r.headers["x-ratelimit-remaining-requests"]) for r in served)
    assert remaining == list(range(20))  # each admitted call saw the count before it


def test_tokens_reserved_then_reconciled_with_real_usage(gw: Proc) -> None:
    key, _ = new_key(gw, tpm=600)
    # max_tokens=250 reserves E = body/4 + 250 tokens per call; the mock answers far shorter.
    calls = burst(gw.url, key, 3, delay_ms=300, max_tokens=250)
    served = [r for r in calls if not isinstance(r, Exception)]
    assert len(served) == 2  # a third reservation would exceed 600
    first = max(int(r.headers["x-ratelimit-remaining-tokens"]) for r in served)  # 600 - E
    used = [r.parse().usage.total_tokens for r in served]
    assert all(u < 50 for u in used)
    for r in served:  # the log drain settles a finished call as it writes the call's line
        request_line(gw, r.headers["x-request-id"])
    after = burst(gw.url, key, 1, max_tokens=250)[0]
    assert not isinstance(after, Exception)
    # Real usage replaced both reservations: 600 - used - E for this call's own estimate.
    assert int(after.headers["x-ratelimit-remaining-tokens"]) == first - sum(used)


def test_requests_in_flight(gw: Proc) -> None:
    key, _ = new_key(gw, max_parallel=2)

    async def held_and_refused() -> tuple[int, list[Any]]:
        """Five calls at once, each an answer that never ends (the mock hangs mid-stream):
        the refusals come while two streams still hold both slots, so none of them waited
        for a slot (one that did would wait forever and fail on its client's timeout)."""
        client = openai.AsyncOpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0, timeout=60)

        async def hold() -> Any:
            try:
                return await client.chat.completions.create(
                    model="gpt-test",
                    messages=[{"role": "user", "content": "hi"}],
                    stream=True,
                    extra_headers={"x-mock-fault": "hang"},
                )
            except openai.APIStatusError as exc:
                return exc

        try:
            results = await asyncio.gather(*(hold() for _ in range(5)))
            held = [r for r in results if isinstance(r, openai.AsyncStream)]
            for stream in held:
                await stream.close()
            return len(held), [r for r in results if isinstance(r, Exception)]
        finally:
            await client.close()

    held, refused = asyncio.run(held_and_refused())
    assert held == 2 and len(refused) == 3, refused
    assert all(r.status_code == 429 and "in flight" in r.message for r in refused)
    # The slots are freed when the gateway sees those clients leave.
    until(lambda: ok(burst(gw.url, key, 2)) == 2, 30, step=0.05)

    async def stream_holds_its_slot() -> tuple[Any, Any]:
        client = aclient(gw.url, key)
        try:
            stream = await client.chat.completions.create(
                model="gpt-test",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                extra_headers={"x-mock-chunk-ms": "100", "x-mock-tokens": "8"},
            )
            # The stream holds 1 of 2 slots: of two overlapping calls, one gets in.
            second = await asyncio.gather(one(client, delay_ms=300), one(client, delay_ms=300))
            async for _ in stream:
                pass

            async def freed() -> bool:  # the gateway frees the slot once the stream has ended
                return not isinstance(await one(client), Exception)

            await until_async(freed)
            return second
        finally:
            await client.close()

    during = asyncio.run(stream_holds_its_slot())
    assert ok(list(during)) == 1


def test_budget_exhausted_then_refused_in_every_protocol(gw: Proc) -> None:
    key, key_id = new_key(gw, budget=0.3, budget_period="day")
    kw = {"model": "priced", "max_tokens": 1, "delay_ms": 300}
    results = burst(gw.url, key, 10, tokens=1, **kw)
    assert ok(results) == 3  # $0.10 reserved each: a 4th would start at $0.30 spent

    def spend() -> dict[str, Any]:
        shown: dict[str, Any] = httpx.get(f"{gw.url}/admin/keys/{key_id}", headers=ADMIN).json()
        spent: dict[str, Any] = shown["spend"]
        return spent

    until(lambda: spend()["reserved"] == 0)  # every call settled (the log drain does it)
    assert spend()["spent"] == pytest.approx(0.3)
    with pytest.raises(openai.RateLimitError) as caught:
        openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=0).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "insufficient_quota"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert "Budget exhausted" in caught.value.message
    with pytest.raises(anthropic.RateLimitError):
        anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0).messages.create(
            model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    client = gm(gw, key)
    with pytest.raises(genai_errors.ClientError) as gemini:
        client.models.generate_content(model="gemini-test", contents="hi")
    assert gemini.value.code == 429 and gemini.value.status == "RESOURCE_EXHAUSTED"


def test_team_limits_and_budgets_are_shared_by_its_keys(gw: Proc) -> None:
    team = {"name": "shared", "rpm": 4, "budget": 10}
    assert httpx.post(f"{gw.url}/admin/teams", json=team, headers=ADMIN).status_code == 201
    a, _ = new_key(gw, team="shared")
    b, _ = new_key(gw, team="shared", rpm=100)
    assert ok(burst(gw.url, a, 3)) == 3
    results = burst(gw.url, b, 3)
    assert ok(results) == 1
    refusal: Any = next(r for r in results if isinstance(r, Exception))
    assert "team shared" in refusal.message
    shown = httpx.get(f"{gw.url}/admin/teams/shared", headers=ADMIN).json()
    assert shown["spend"]["spent"] == 0 and len(shown["keys"]) == 2


def test_per_model_limits(gw: Proc) -> None:
    key, _ = new_key(gw, model_limits={"gpt-test": {"rpm": 1}})
    assert ok(burst(gw.url, key, 3)) == 1
    assert ok(burst(gw.url, key, 3, model="gpt-other")) == 3  # other models: no limit


def test_rate_limit_in_anthropic_and_gemini_shapes(gw: Proc) -> None:
    key, _ = new_key(gw, rpm=1)
    client = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)
    ask: Any = {
        "model": "claude-test",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "x"}],
    }
    assert client.messages.create(**ask).content
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(**ask)
    assert caught.value.response.headers["x-ratelimit-limit-requests"] == "1"
    google = gm(gw, key)
    with pytest.raises(genai_errors.ClientError) as gemini:
        google.models.generate_content(model="gemini-test", contents="hi")
    assert gemini.value.code == 429


def test_spend_survives_a_restart_through_the_request_log(
    mock: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Budgets are seeded from the request log's costs when a gateway starts."""
    tmp = tmp_path_factory.mktemp("spend")
    config = limits_config(mock, storage={"flush_interval": 0.05})
    env = {"TURNOUT_MASTER_KEY": MASTER}
    first = start_gateway(config, tmp, env=env)
    try:
        key, key_id = new_key(first, budget=0.25, budget_period="month")
        assert ok(burst(first.url, key, 1, model="priced", max_tokens=1, tokens=1)) == 1
        assert ok(burst(first.url, key, 1, model="priced", max_tokens=1, tokens=1)) == 1
    finally:
        first.signal(signal.SIGTERM)  # drains: the rows reach the database
        first.popen.wait(30)
        first.stop()
    again = start_gateway(config, tmp, env=env)
    try:

        def seeded() -> bool:
            shown = httpx.get(f"{again.url}/admin/keys/{key_id}", headers=ADMIN).json()
            return bool(shown["spend"]["spent"] == pytest.approx(0.2))

        until(seeded, 5)  # seeded from the request log
        assert ok(burst(again.url, key, 1, model="priced", max_tokens=1, tokens=1)) == 1

        def settled() -> bool:
            shown = httpx.get(f"{again.url}/admin/keys/{key_id}", headers=ADMIN).json()
            return bool(shown["spend"]["reserved"] == 0)

        until(settled)
        assert ok(burst(again.url, key, 1, model="priced", max_tokens=1, tokens=1)) == 0
    finally:
        again.stop()


def test_concurrent_calls_asking_for_long_answers_stay_within_the_token_limit(gw: Proc) -> None:
    """A token limit reserves the most a call may write (its ``max_tokens``), as a budget does.
    Before: the reservation was capped at ``limits.output_estimate`` (256), so eight calls
    asking for 2,000 tokens each were all admitted by a 10,000-token key and used 16,000."""
    key, _ = new_key(gw, tpm=10_000)
    results = burst(gw.url, key, 8, delay_ms=300, max_tokens=2000, tokens=2000)
    served = [r for r in results if not isinstance(r, Exception)]
    used = sum(r.parse().usage.total_tokens for r in served)
    assert len(served) == 4 and used <= 10_000, (len(served), used)
    refused: list[Any] = [r for r in results if isinstance(r, Exception)]
    assert all(
        isinstance(r, openai.RateLimitError) and r.code == "rate_limit_exceeded" for r in refused
    )
    assert all(r.response.headers["x-should-retry"] == "true" for r in refused)


def test_a_call_asking_for_more_than_the_token_limit_is_admitted_alone(gw: Proc) -> None:
    """A call whose ``max_tokens`` alone exceeds the limit is not refused for ever: an empty
    window admits it, and it then holds the window (until its real usage replaces it)."""
    key, _ = new_key(gw, tpm=1000)
    big = burst(gw.url, key, 1, max_tokens=5000, tokens=1500)[0]
    assert not isinstance(big, Exception)
    assert big.parse().usage.completion_tokens == 1500
    after = burst(gw.url, key, 1, max_tokens=10)[0]
    assert isinstance(after, openai.RateLimitError)
    assert 1 <= int(after.response.headers["retry-after"]) <= 61
