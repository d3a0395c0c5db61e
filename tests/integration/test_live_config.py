"""Live configuration against real processes: a gateway in front of the mock provider whose
config file is edited, reloaded (API, SIGHUP, file watch) and judged by the OpenAI SDK.

Deployments are told apart by ``x-turnout-deployment`` (provider/upstream model): each
config version routes the model ``live`` to the upstream model ``v<version>``, so every
answer says which config served it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.support.procs import Proc, free_port, mock_provider, start_gateway
from tests.support.wait import until

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def config(mock: Proc, k: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Version ``k``: ``live`` -> upstream ``v<k>``; ``extra-<k>`` added, ``extra-<k-2>`` gone."""
    models: dict[str, Any] = {
        "live": {"deployments": [{"provider": "mock", "model": f"v{k}"}]},
        **{f"extra-{i}": {"deployments": [{"provider": "mock"}]} for i in (k - 1, k) if i >= 0},
    }
    return {
        "routing": {"breaker": {"consecutive_failures": 2, "cooldown": 60}},
        "providers": {"mock": mock_provider(mock)},
        "models": {**models, **(extra or {})},
    }


class Live:
    """A gateway and its config file."""

    def __init__(self, proc: Proc, path: Path) -> None:
        self.proc = proc
        self.path = path
        self.client = openai.OpenAI(base_url=proc.url + "/v1", api_key="unused", max_retries=0)

    def write(self, cfg: dict[str, Any] | str) -> None:
        """Replace the file the way editors do: a new file renamed over the old one."""
        text = cfg if isinstance(cfg, str) else yaml.safe_dump(cfg)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)

    def reload(self) -> httpx.Response:
        return httpx.post(self.proc.url + "/admin/config/reload", timeout=30)

    def admin_config(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(self.proc.url + "/admin/config", timeout=10).json()
        return body

    def deployment(self, model: str = "live", **headers: str) -> str | None:
        raw = self.client.chat.completions.with_raw_response.create(
            model=model, messages=MESSAGES, extra_headers=headers
        )
        return raw.headers.get("x-turnout-deployment")


def _start(mock: Proc, tmp: Path, cfg: dict[str, Any], *extra: str) -> Live:
    proc = start_gateway(cfg, tmp, *extra, ready_within=60)
    return Live(proc, tmp / f"turnout-{proc.port}.yaml")


def _stop_group(gw: Live) -> None:
    """The supervisor and its workers (a SIGKILL to the supervisor alone orphans them)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(gw.proc.popen.pid, signal.SIGKILL)
    gw.proc.stop()


@pytest.fixture
def live(mock: Proc, tmp_path: Path) -> Iterator[Live]:
    gw = _start(mock, tmp_path, config(mock, 0), "--no-watch")
    yield gw
    gw.proc.stop()


def test_a_reload_applies_a_new_model_and_reports_the_version(live: Live, mock: Proc) -> None:
    before = live.admin_config()["live"]
    assert live.deployment() == "mock/v0"
    live.write(config(mock, 1))
    answer = live.reload()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["result"] == "reloaded" and body["version"] != before["version"]
    assert live.deployment() == "mock/v1"
    assert live.deployment("extra-1") == "mock/extra-1"
    after = live.admin_config()
    assert after["live"]["version"] == body["version"]
    assert after["live"]["generation"] == before["generation"] + 1
    assert after["live"]["last_error"] is None
    assert "extra-1" in after["models"]
    # Nothing changed: nothing swapped.
    assert live.reload().json()["result"] == "unchanged"


def test_an_invalid_edit_changes_nothing_and_says_every_problem(live: Live, mock: Proc) -> None:
    bad = config(mock, 1)
    bad["models"]["live"]["deployments"][0]["provider"] = "nowhere"
    bad["models"]["extra-1"]["strategy"] = "no-such-strategy"
    bad["bogus"] = 1
    live.write(bad)
    answer = live.reload()
    assert answer.status_code == 422
    body = answer.json()
    problems = "\n".join(body["problems"])
    assert "nowhere" in problems and "no-such-strategy" in problems and "bogus" in problems
    assert "line " in problems  # located in the file, as `turnout check` prints them
    assert live.deployment() == "mock/v0"  # the old config keeps serving
    state = live.admin_config()["live"]
    assert state["last_error"]["problems"] == body["problems"]
    assert state["reloads"]["failed"] == 1
    metrics = httpx.get(live.proc.url + "/metrics").text
    assert 'turnout_config_reloads_total{result="failed"} 1.0' in metrics
    assert "turnout_config_reload_failing 1.0" in metrics
    assert live.proc.output().count("config reload failed") == 1  # logged once
    live.reload()  # the same problems again: counted, not logged again
    assert live.proc.output().count("config reload failed") == 1
    live.write(config(mock, 2))
    assert live.reload().status_code == 200
    assert live.deployment() == "mock/v2"
    assert live.admin_config()["live"]["last_error"] is None


def test_a_reloads_problems_never_show_a_password(live: Live, mock: Proc) -> None:
    """A password with an unescaped ``/`` or ``?`` splits a Redis URL in the wrong place: the
    problem says what is wrong without quoting the pieces, which are the password's."""
    secrets = ("Zx9pass", "wordQ7", "hunter2x")
    urls = {
        "limits": "redis://:Zx9pass/wordQ7@127.0.0.1:6379/0",
        "cache": "redis://default:hunter2x?y@127.0.0.1:6379",
        "shared": "redis://:1234/Zx9pass@127.0.0.1",
    }
    cfg = config(mock, 1)
    cfg["limits"] = {"backend": "redis", "redis_url": urls["limits"]}
    cfg["cache"] = {"backend": "redis", "redis_url": urls["cache"]}
    cfg["shared"] = {"redis_url": urls["shared"]}
    live.write(cfg)
    answer = live.reload()
    body = answer.json()
    assert answer.status_code == 422 and len(body["problems"]) == 3, body
    shown = [answer.text, httpx.get(live.proc.url + "/admin/config", timeout=10).text]
    until(lambda: "config reload failed" in live.proc.output(), 10)
    shown.append(live.proc.output())
    for text in shown:
        assert not any(s in text for s in (*secrets, "1234")), text


def test_sighup_reloads(live: Live, mock: Proc) -> None:
    live.write(config(mock, 3))
    live.proc.signal(signal.SIGHUP)
    until(lambda: live.deployment() == "mock/v3")


def test_turnout_reload_command(live: Live, mock: Proc) -> None:
    from typer.testing import CliRunner

    from turnout.cli.main import app

    live.write(config(mock, 4))
    result = CliRunner().invoke(app, ["reload", "--url", live.proc.url])
    assert result.exit_code == 0, result.output
    assert "reloaded: config version" in result.output
    assert live.deployment() == "mock/v4"
    live.write("models: [unclosed\n")
    result = CliRunner().invoke(app, ["reload", "--url", live.proc.url])
    assert result.exit_code == 1
    assert "invalid YAML" in result.output
    assert live.deployment() == "mock/v4"


def test_an_edited_file_is_applied_by_the_watcher(mock: Proc, tmp_path: Path) -> None:
    gw = _start(mock, tmp_path, config(mock, 0))
    try:
        gw.write(config(mock, 5))  # renamed over the old file
        until(lambda: gw.deployment() == "mock/v5")
        gw.path.write_text(yaml.safe_dump(config(mock, 6)))  # written in place
        until(lambda: gw.deployment() == "mock/v6")
    finally:
        gw.proc.stop()


def test_breaker_and_sticky_state_survive_a_reload_elsewhere(mock: Proc, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    extra = {
        "broken": {
            "deployments": [
                {"provider": "dead", "model": "d", "priority": 0},
                {"provider": "mock", "model": "backup", "priority": 1},
            ]
        },
        "pinned": {
            "strategy": "sticky",
            "deployments": [
                {"provider": "mock", "model": "a", "weight": 1},
                {"provider": "mock", "model": "b", "weight": 1},
            ],
        },
    }

    def cfg(k: int) -> dict[str, Any]:
        c = config(mock, k, extra)
        c["providers"]["dead"] = {"type": "openai-compatible", "base_url": dead, "api_keys": ["x"]}
        return c

    gw = _start(mock, tmp_path, cfg(0), "--no-watch")
    try:
        for _ in range(3):
            assert gw.deployment("broken") == "mock/backup"
        health = httpx.get(gw.proc.url + "/admin/health").text
        assert "ejected" in health
        pins = {f"s{i}": gw.deployment("pinned", **{"x-session-id": f"s{i}"}) for i in range(16)}
        assert set(pins.values()) == {"mock/a", "mock/b"}  # spread, so pins mean something
        gw.write(cfg(1))
        assert gw.reload().json()["result"] == "reloaded"
        assert gw.deployment() == "mock/v1"
        for session, pinned in pins.items():
            assert gw.deployment("pinned", **{"x-session-id": session}) == pinned
        deployments = httpx.get(gw.proc.url + "/admin/health").json()["deployments"]
        dead_state = [d for d in deployments if d["id"] == "dead/d"]
        assert dead_state and dead_state[0]["state"] != "active"
    finally:
        gw.proc.stop()


def test_streams_in_flight_finish_on_a_removed_model(live: Live, mock: Proc) -> None:
    streams = [
        live.client.chat.completions.create(
            model="extra-0",
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-mock-chunk-ms": "40", "x-mock-tokens": "30"},
        )
        for _ in range(5)
    ]
    iters = [iter(s) for s in streams]
    firsts = [next(it) for it in iters]  # every stream has begun
    live.write(config(mock, 2))  # extra-0 removed
    assert live.reload().json()["result"] == "reloaded"
    with pytest.raises(openai.NotFoundError):
        live.deployment("extra-0")
    for first, it in zip(firsts, iters, strict=True):
        rest = list(it)
        assert first.choices is not None
        assert rest[-1].choices[0].finish_reason == "stop"


def test_a_thousand_requests_across_twenty_reloads(live: Live, mock: Proc) -> None:
    """Half streams; every answer comes from a config that was serving while it ran."""
    total, reloads = 1000, 20
    started = 0  # reloads begun (the version a request may at most see)
    applied = 0  # reloads answered (the version a request must at least see)
    done = 0
    failures: list[str] = []
    progress = asyncio.Event()

    async def one(i: int, client: openai.AsyncOpenAI) -> None:
        nonlocal done
        low = applied
        try:
            if i % 2:
                streamed = await client.chat.completions.with_raw_response.create(
                    model="live",
                    messages=MESSAGES,
                    stream=True,
                    extra_headers={"x-mock-chunk-ms": "5", "x-mock-tokens": "12"},
                )
                chunks = [c async for c in streamed.parse()]
                if not chunks or chunks[-1].choices[0].finish_reason != "stop":
                    failures.append(f"{i}: stream cut")
                label = streamed.headers["x-turnout-deployment"]
            else:
                whole = await client.chat.completions.with_raw_response.create(
                    model="live", messages=MESSAGES
                )
                whole.parse()
                label = whole.headers["x-turnout-deployment"]
            served = int(label.removeprefix("mock/v"))
            if not low <= served <= started:
                failures.append(f"{i}: served by v{served} outside v{low}..v{started}")
        except Exception as exc:
            failures.append(f"{i}: {type(exc).__name__}: {exc}")
        finally:
            done += 1
            progress.set()

    async def reloader(http: httpx.AsyncClient) -> None:
        nonlocal started, applied
        for k in range(1, reloads + 1):
            while done < k * total // (reloads + 1):
                progress.clear()
                await progress.wait()
            await asyncio.to_thread(live.write, config(mock, k))
            started = k
            answer = await http.post(live.proc.url + "/admin/config/reload")
            assert answer.status_code == 200 and answer.json()["result"] == "reloaded"
            applied = k

    async def main() -> None:
        async with (
            httpx.AsyncClient(timeout=60) as http,
            openai.AsyncOpenAI(
                base_url=live.proc.url + "/v1", api_key="unused", max_retries=0, timeout=60
            ) as client,
        ):
            sem = asyncio.Semaphore(32)

            async def bounded(i: int) -> None:
                async with sem:
                    await one(i, client)

            await asyncio.gather(reloader(http), *(bounded(i) for i in range(total)))

    asyncio.run(main())
    assert not failures, failures[:10]
    assert done == total and applied == reloads
    assert live.admin_config()["live"]["reloads"]["reloaded"] == reloads


def test_every_worker_applies_the_same_version(mock: Proc, tmp_path: Path) -> None:
    gw = _start(mock, tmp_path, config(mock, 0), "--workers", "2")
    try:

        def versions() -> set[str]:
            workers = gw.admin_config()["live"]["workers"]
            return {w["version"] for w in workers} if len(workers) == 2 else set()

        until(lambda: len(versions()) == 1, 60)
        first = versions()
        gw.write(config(mock, 1))  # every worker watches the file
        until(lambda: len(versions()) == 1 and versions() != first, 10)
        # Whichever worker answers, the new config serves.
        assert {gw.deployment() for _ in range(10)} == {"mock/v1"}
        gw.path.write_text(yaml.safe_dump(config(mock, 2)))
        body = gw.reload().json()  # the answering worker reloads, then has the others do it
        assert body["result"] in ("reloaded", "unchanged")  # the watcher may have been first
        assert {w["version"] for w in body["workers"]} == {body["version"]}
        assert len(body["workers"]) == 2
        assert {gw.deployment() for _ in range(10)} == {"mock/v2"}
    finally:
        _stop_group(gw)


def test_a_restarted_worker_serves_the_file_as_it_is_now(mock: Proc, tmp_path: Path) -> None:
    """A worker the supervisor starts again (it died) after a reload serves the reloaded
    file, not the config checked when the gateway started."""
    gw = _start(mock, tmp_path, config(mock, 0), "--workers", "2")
    try:

        def workers() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = gw.admin_config()["live"]["workers"]
            return found if len(found) == 2 else []

        until(lambda: len(workers()) == 2, 60)
        first = {w["version"] for w in workers()}
        gw.write(config(mock, 3))

        def versions() -> set[str]:
            return {w["version"] for w in workers()}

        # Both workers on the one new version (one of them alone first would make ``new`` a
        # mix that the restarted worker can never match).
        until(lambda: len(versions()) == 1 and versions() != first, 10)
        new = versions()
        victim = workers()[0]["pid"]
        os.kill(victim, signal.SIGKILL)
        seen: list[dict[str, Any]] = []

        def replaced() -> bool:  # one reading of both workers, the restarted one among them
            found = workers()
            seen[:] = found
            return bool(found) and victim not in {w["pid"] for w in found}

        until(replaced, 60)
        assert {w["version"] for w in seen} == new
        assert {gw.deployment() for _ in range(10)} == {"mock/v3"}
    finally:
        _stop_group(gw)


def test_sighup_to_the_supervisor_reaches_every_worker(mock: Proc, tmp_path: Path) -> None:
    gw = _start(mock, tmp_path, config(mock, 0), "--workers", "2", "--no-watch")
    try:
        until(lambda: len(gw.admin_config()["live"]["workers"]) == 2, 60)
        gw.write(config(mock, 7))
        gw.proc.signal(signal.SIGHUP)

        def done() -> bool:
            workers = gw.admin_config()["live"]["workers"]
            return len(workers) == 2 and all(w["generation"] == 2 for w in workers)

        until(done, 10)
        assert {gw.deployment() for _ in range(10)} == {"mock/v7"}
        assert gw.proc.popen.poll() is None
    finally:
        _stop_group(gw)


def test_a_symlinked_config_is_followed_where_it_lives(mock: Proc, tmp_path: Path) -> None:
    """The config path is a link into another directory (a deploy tool's releases, a shared
    mount): editing the file it leads to reloads, and so does re-pointing the link, after
    which the new target's directory is the one followed. Before, only the link's directory
    was watched: an edit of the target was never applied."""
    gw = _start(mock, tmp_path, config(mock, 0))
    releases = tmp_path / "releases"
    releases.mkdir()
    first, second = releases / "one.yaml", tmp_path / "elsewhere" / "two.yaml"
    second.parent.mkdir()
    try:
        first.write_text(yaml.safe_dump(config(mock, 1)))
        link = gw.path.with_name("link.tmp")
        link.symlink_to(first)
        os.replace(link, gw.path)  # the config path now leads to releases/one.yaml
        until(lambda: gw.deployment() == "mock/v1", 30)
        staged = releases / "one.yaml.tmp"  # an edit where the file lives, saved by rename
        staged.write_text(yaml.safe_dump(config(mock, 2)))
        os.replace(staged, first)
        until(lambda: gw.deployment() == "mock/v2", 30)
        second.write_text(yaml.safe_dump(config(mock, 3)))
        link.symlink_to(second)
        os.replace(link, gw.path)  # re-pointed into a third directory
        until(lambda: gw.deployment() == "mock/v3", 30)
        second.write_text(yaml.safe_dump(config(mock, 4)))  # in place, where it now lives
        until(lambda: gw.deployment() == "mock/v4", 30)
    finally:
        gw.proc.stop()


def test_a_file_with_thousands_of_problems_is_refused_in_bounded_words(
    live: Live, mock: Proc
) -> None:
    """Every problem of a reload was kept in ``GET /admin/config``, written in one log line
    and answered: a 6 MB file of 100,000 broken models made 200,000 problems (26 MB of
    text), and checking it took hours, because each model's fallbacks were checked against
    every model name built again (10,000 models: 104 s). Now the first 100 are kept, logged
    and answered with a count of the rest, and the check is linear."""
    cfg = config(mock, 1)
    for i in range(3000):
        cfg["models"][f"broken-{i}"] = {"deployments": [{"provider": "mock"}], f"bogus{i}": 1}
    live.write(cfg)
    answer = live.reload()
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert len(problems) == 101, len(problems)
    assert problems[-1] == "... and 2900 more problem(s): `turnout check` lists every one"
    assert live.admin_config()["live"]["last_error"]["problems"] == problems
    assert live.deployment() == "mock/v0"
    assert "bogus2999" not in live.proc.output()
