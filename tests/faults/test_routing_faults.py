"""docs/reliability.md rows 1-7b, 11 and 12: what routing must survive, with real processes.

One gateway in front of the mock provider plays every scenario, each on its own models so
their health does not mix; the retry-storm scenario gets a gateway of its own because it
needs the breaker out of the way. A provider that forwards the client's ``x-mock-*`` headers
lets a test make one deployment fail on demand; ``steady`` forwards nothing, so it keeps
answering whatever the test sends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest

from tests.support.procs import Proc, free_port, mock_provider, start_gateway
from tests.support.request_log import request_line
from tests.support.wait import until

MESSAGES: Any = [{"role": "user", "content": "hi"}]
FAIL = {"x-mock-status": "500"}


def _config(mock: Proc) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    return {
        "routing": {
            "breaker": {"consecutive_failures": 3, "cooldown": 1, "max_cooldown": 4},
            "cooldowns": {"rate_limited": 1},
        },
        "providers": {
            "mock": mock_provider(mock),
            "steady": {**mock_provider(mock), "forward_headers": []},
            "dead": {"type": "openai-compatible", "base_url": dead, "api_keys": ["sk-dead-01"]},
            "stall": mock_provider(
                mock, headers={"x-mock-ttft-ms": "3000"}, timeouts={"read": 0.3}
            ),
            "cut": mock_provider(mock, headers={"x-mock-fault": "disconnect"}),
            "slowpoke": mock_provider(mock, headers={"x-mock-ttft-ms": "2000"}),
            "busy": mock_provider(mock, headers={"x-mock-ttft-ms": "1000"}),
            "limited": mock_provider(
                mock, headers={"x-mock-status": "429", "x-mock-retry-after": "60"}
            ),
        },
        "models": {
            "flaky": {"deployments": [{"provider": "mock", "model": "flaky"}]},
            "cooling": {"deployments": [{"provider": "mock", "model": "cooling"}]},
            "with-fallback": {
                "deployments": [{"provider": "mock", "model": "fb-primary"}],
                "fallbacks": ["backup"],
            },
            "backup": {"deployments": [{"provider": "steady", "model": "backup"}]},
            "refused": {
                "deployments": [
                    {"provider": "dead", "model": "r1", "priority": 0},
                    {"provider": "mock", "model": "r2", "priority": 1},
                ]
            },
            "rate": {
                "deployments": [
                    {"provider": "limited", "model": "rate1", "priority": 0},
                    {"provider": "mock", "model": "rate2", "priority": 1},
                ]
            },
            "client-errors": {
                "deployments": [
                    {"provider": "mock", "model": "ce1", "priority": 0},
                    {"provider": "steady", "model": "ce2", "priority": 1},
                ]
            },
            "deadline": {
                "deadline": 0.5,
                "deployments": [
                    {"provider": "slowpoke", "model": "d1"},
                    {"provider": "slowpoke", "model": "d2"},
                ],
            },
            "prefirst": {
                "deployments": [
                    {"provider": "stall", "model": "pf1", "priority": 0},
                    {"provider": "mock", "model": "pf2", "priority": 1},
                ]
            },
            "midstream": {
                "deployments": [
                    {"provider": "cut", "model": "ms1", "priority": 0},
                    {"provider": "mock", "model": "ms2", "priority": 1},
                ]
            },
            "narrow": {"deployments": [{"provider": "busy", "model": "n1", "max_concurrent": 2}]},
        },
    }


@pytest.fixture(scope="module")
def gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_gateway(_config(mock), tmp_path_factory.mktemp("faults"))
    yield proc
    proc.stop()


@pytest.fixture
def client(gw: Proc) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-client", base_url=gw.url + "/v1", max_retries=0)


def _upstream_requests(mock: Proc) -> int:
    return int(httpx.get(mock.url + "/_mock/stats").json()["requests"])


def _deployment(gw: Proc, deployment_id: str) -> dict[str, Any]:
    report = httpx.get(gw.url + "/admin/health").json()
    return next(d for d in report["deployments"] if d["id"] == deployment_id)


def _ask(client: openai.OpenAI, model: str, **headers: str) -> Any:
    return client.chat.completions.with_raw_response.create(
        model=model, messages=MESSAGES, max_tokens=2, extra_headers=headers or None
    )


def _wait_for_log(gw: Proc, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in gw.output():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged")


# 1 ------------------------------------------------------------------------------------------
def _wait_half_open(gw: Proc, deployment_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while _deployment(gw, deployment_id)["state"] != "half_open":
        assert time.monotonic() < deadline, "cooldown never ended"
        time.sleep(0.05)


def _cooldowns(gw: Proc, target: str) -> list[float]:
    """The cooldown of each of ``target``'s ejections logged so far, as logged when it was
    ejected (the gateway's own figure: no reading of a clock here, which a busy machine
    would skew)."""
    found = []
    for line in gw.output().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(record, dict)
            and record.get("event") == "cooling down"
            and record.get("id") == target
            and record.get("new") == "ejected"
        ):
            found.append(record["seconds"])
    return found


def test_consecutive_failures_eject_with_growing_cooldown_and_half_open_trial(
    client: openai.OpenAI, gw: Proc, mock: Proc
) -> None:
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            _ask(client, "flaky", **FAIL)
    state = _deployment(gw, "mock/flaky")
    # Ejected (or, on a slow machine, already past its one-second cooldown: half open).
    assert state["state"] in ("ejected", "half_open") and state["ejections"] == 1, state
    until(lambda: _cooldowns(gw, "mock/flaky"), 30.0)
    assert _cooldowns(gw, "mock/flaky") == [1.0]
    # The last healthy deployment of the model went: loudly, not silently.
    _wait_for_log(gw, '"no healthy deployment left"')
    # Half-open: after the cooldown one trial goes through; it fails, the cooldown doubles.
    _wait_half_open(gw, "mock/flaky")
    before = _upstream_requests(mock)
    with pytest.raises(openai.InternalServerError):
        _ask(client, "flaky", **FAIL)
    assert _upstream_requests(mock) == before + 1
    assert _deployment(gw, "mock/flaky")["ejections"] == 2
    until(lambda: len(_cooldowns(gw, "mock/flaky")) >= 2, 30.0)
    assert _cooldowns(gw, "mock/flaky") == [1.0, 2.0]
    _wait_half_open(gw, "mock/flaky")
    raw = _ask(client, "flaky")  # the trial succeeds: back in service
    assert raw.http_response.status_code == 200
    assert _deployment(gw, "mock/flaky")["state"] == "active"


# 2 ------------------------------------------------------------------------------------------
def test_connection_refused_is_retried_on_a_different_deployment(client: openai.OpenAI) -> None:
    raw = _ask(client, "refused")
    assert raw.headers["x-turnout-deployment"] == "mock/r2"
    assert raw.headers["x-turnout-attempts"] == "2"
    assert raw.parse().choices[0].message.content


# 3 ------------------------------------------------------------------------------------------
def test_429_cools_the_deployment_down_for_at_least_retry_after(
    client: openai.OpenAI, gw: Proc, mock: Proc
) -> None:
    raw = _ask(client, "rate")  # the 429 fails over at once
    assert raw.headers["x-turnout-deployment"] == "mock/rate2"
    assert raw.headers["x-turnout-attempts"] == "2"
    before = _upstream_requests(mock)
    # rate1 is skipped for its Retry-After (a minute: longer than a busy machine stalls a test)
    for _ in range(5):  # one upstream call each
        assert _ask(client, "rate").headers["x-turnout-attempts"] == "1"
    assert _upstream_requests(mock) == before + 5
    keys = httpx.get(gw.url + "/admin/health").json()["keys"]
    limited = next(k for k in keys if k["provider"] == "limited")
    assert limited["state"] == "rate_limited" and 0 < limited["retry_in"] <= 60


# 4 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_request_errors_return_at_once_and_never_eject(
    client: openai.OpenAI, gw: Proc, status: int
) -> None:
    for _ in range(5):
        with pytest.raises(openai.APIStatusError) as info:
            _ask(client, "client-errors", **{"x-mock-status": str(status)})
        response = info.value.response
        assert response.status_code == status
        assert response.headers["x-turnout-attempts"] == "1"  # no retry, no failover
        assert response.headers["x-should-retry"] == "false"
    state = _deployment(gw, "mock/ce1")
    assert (state["state"], state["consecutive_failures"]) == ("active", 0)
    assert _ask(client, "client-errors").headers["x-turnout-deployment"] == "mock/ce1"


# 5 ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def storm_gw(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "routing": {
            # Keep the breaker out of the way: this gateway shows the retry budget alone.
            "breaker": {"consecutive_failures": 1000, "failure_rate": 1, "min_requests": 10**6},
            "retry_budget": {"ratio": 0.2, "min_retries": 0},
        },
        "providers": {"sick": mock_provider(mock, headers={"x-mock-status": "500",
                                                           "x-mock-ttft-ms": "500"})},
        "models": {"storm": {"deployments": [{"provider": "sick", "model": "s1"},
                                             {"provider": "sick", "model": "s2"}]}},
    }  # fmt: skip
    proc = start_gateway(config, tmp_path_factory.mktemp("storm"))
    yield proc
    proc.stop()


def test_retry_storm_is_bounded_by_the_budget(storm_gw: Proc, mock: Proc) -> None:
    client = openai.OpenAI(api_key="k", base_url=storm_gw.url + "/v1", max_retries=0)
    n = 20
    before = _upstream_requests(mock)

    def one(_: int) -> Any:
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="storm", messages=MESSAGES)
        return info.value.response

    with ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(one, range(n)))
    upstream = _upstream_requests(mock) - before
    # Without a budget every request would try both deployments: 2n upstream calls.
    # With 20 % of n in flight, at most n / 5 retries run at once.
    assert n <= upstream <= n + n // 5 + 2, upstream
    router = httpx.get(storm_gw.url + "/admin/health").json()["router"]
    assert router["budget_refusals"] >= n // 2
    # Terminal answers: SDKs must not multiply the attempts.
    assert all(r.headers["x-should-retry"] == "false" for r in responses)


# 6 ------------------------------------------------------------------------------------------
def test_one_deadline_per_request_and_no_sdk_retry_on_top(gw: Proc, mock: Proc) -> None:
    client = openai.OpenAI(api_key="k", base_url=gw.url + "/v1")  # SDK default: 2 retries
    before = _upstream_requests(mock)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="deadline", messages=MESSAGES)
    elapsed = time.monotonic() - started
    assert info.value.status_code == 504
    assert info.value.response.headers["x-should-retry"] == "false"
    assert elapsed > 0.45  # the deadline was waited out, once:
    assert _upstream_requests(mock) == before + 1  # no SDK retry on top


# 7 ------------------------------------------------------------------------------------------
def test_stream_failure_before_the_first_byte_fails_over_transparently(
    client: openai.OpenAI,
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="prefirst",
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-mock-tokens": "12"},
    )
    assert raw.headers["x-turnout-deployment"] == "mock/pf2"
    assert raw.headers["x-turnout-attempts"] == "2"
    text = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in raw.parse()
        if chunk.choices and chunk.choices[0].delta
    )
    assert len(text.split()) >= 12 or len(text) > 12


# 7b -----------------------------------------------------------------------------------------
def test_stream_failure_after_the_first_byte_is_an_error_never_a_switch(
    client: openai.OpenAI, mock: Proc, gw: Proc
) -> None:
    before = _upstream_requests(mock)
    raw = client.chat.completions.with_raw_response.create(
        model="midstream", messages=MESSAGES, stream=True, extra_headers={"x-mock-tokens": "20"}
    )
    assert raw.headers["x-turnout-deployment"] == "cut/ms1"
    received = 0
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for chunk in raw.parse():
            if chunk.choices and chunk.choices[0].delta.content:
                received += 1
    assert 0 < received < 20
    assert _upstream_requests(mock) == before + 1  # never a silent switch to ms2
    assert _deployment(gw, "cut/ms1")["consecutive_failures"] == 1  # and it counts


# 11 -----------------------------------------------------------------------------------------
def test_every_deployment_cooling_uses_the_fallback_model(client: openai.OpenAI) -> None:
    for _ in range(3):  # the primary fails; each request is still answered by the fallback
        raw = _ask(client, "with-fallback", **FAIL)
        assert raw.headers["x-turnout-deployment"] == "steady/backup"
        assert raw.headers["x-turnout-attempts"] == "2"
    raw = _ask(client, "with-fallback")  # primary ejected: straight to the fallback
    assert raw.headers["x-turnout-deployment"] == "steady/backup"
    assert raw.headers["x-turnout-attempts"] == "1"


def test_every_deployment_cooling_without_fallback_is_a_fast_503(
    client: openai.OpenAI, gw: Proc, mock: Proc
) -> None:
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            _ask(client, "cooling", **FAIL)
    before = _upstream_requests(mock)
    with pytest.raises(openai.InternalServerError) as info:
        _ask(client, "cooling")
    assert info.value.status_code == 503
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["x-should-retry"] == "true"
    assert _upstream_requests(mock) == before
    # Fast: refused before any attempt (the router's only waits are between attempts), and the
    # client is told when to come back instead of being held until the cooldown ends.
    line = request_line(gw, info.value.response.headers["x-request-id"])
    assert (line["status"], line["attempts"], line["deployment"]) == (503, 0, None)
    assert line["error"] == "NoHealthyDeployment"


# 12 -----------------------------------------------------------------------------------------
def test_more_in_flight_than_the_limit_is_refused_at_once(gw: Proc) -> None:
    """Six calls at once against ``max_concurrent: 2``, each an answer that never ends (the
    mock hangs mid-stream): two are served and four refused with Retry-After while those two
    still hold their slots. So nothing queued: a queued call would wait for a slot that never
    frees (and fail on its client's timeout instead of being refused)."""
    client = openai.OpenAI(api_key="sk-client", base_url=gw.url + "/v1", max_retries=0, timeout=60)

    def one(_: int) -> Any:
        try:
            return client.chat.completions.create(
                model="narrow",
                messages=MESSAGES,
                stream=True,
                extra_headers={"x-mock-fault": "hang"},
            )
        except openai.APIStatusError as exc:
            return exc

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    held = [r for r in results if isinstance(r, openai.Stream)]
    refused = [r for r in results if isinstance(r, openai.APIStatusError)]
    try:
        assert len(held) == 2 and len(refused) == 4, results
        assert all(r.status_code == 429 for r in refused), refused
        assert all(r.response.headers["retry-after"] == "1" for r in refused)
        assert _deployment(gw, "busy/n1")["inflight"] == 2  # both still held
    finally:
        for stream in held:
            stream.close()
    deadline = time.monotonic() + 30
    while _deployment(gw, "busy/n1")["inflight"]:  # the gateway sees the clients leave
        assert time.monotonic() < deadline, "the slots were never freed"
        time.sleep(0.05)
