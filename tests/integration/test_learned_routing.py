"""Learned routing end to end on real processes.

A mock provider with skill profiles (a cheap model good only at easy prompts, a strong one good
at both, a judge), a gateway with request capture and a database; traffic through the gateway
with the OpenAI SDK, labels from the application's feedback and from the judge, then the CLI:
export, train, eval, deploy. The router must beat random routing on held-out prompts by a
clear margin and, deployed, send easy prompts to the cheap deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.support.procs import Proc, mock_provider, start_gateway, start_mock
from tests.unit.router.synth import EASY, HARD, WORDS

PROFILE = {
    "seed": "e2e",
    "categories": {
        "easy": ["capital", "hello", "translate", "synonym"],
        "hard": ["prove", "python", "derive", "complexity"],
    },
    "models": {
        "cheap-1": {"quality": {"easy": 0.95, "hard": 0.1}, "price": {"input": 0.1, "output": 0.4}},
        "strong-1": {"quality": {"easy": 0.97, "hard": 0.95}, "price": {"input": 5, "output": 15}},
    },
    "judges": ["judge-1"],
}
N_PROMPTS = 240


def prompt(i: int) -> tuple[str, str]:
    kind = "easy" if i % 2 == 0 else "hard"
    templates = EASY if kind == "easy" else HARD
    text = templates[(i // 2) % len(templates)].format(
        x=WORDS[(i * 7) % len(WORDS)], n=(i * 13) % 97 + 2
    )
    return f"{text} (case {i})", kind


def cli(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", "router", *args],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def wait_for(what: str, probe: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def gateway_config(mock: Proc) -> dict[str, Any]:
    prices = {m: s["price"] for m, s in PROFILE["models"].items()}  # type: ignore[attr-defined]
    return {
        "providers": {"mock": mock_provider(mock)},
        "models": {
            "auto": {
                "strategy": "round-robin",  # while collecting: every prompt meets both
                "deployments": [
                    {"provider": "mock", "model": "cheap-1", "price": prices["cheap-1"]},
                    {"provider": "mock", "model": "strong-1", "price": prices["strong-1"]},
                ],
            },
            "judge-1": {"deployments": [{"provider": "mock", "model": "judge-1"}]},
        },
        "pricing": {"models": prices},
        "capture": {"enabled": True, "dir": "captures", "models": ["auto"], "max_files": 5000},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("learned")
    (tmp / "skills.yaml").write_text(yaml.safe_dump(PROFILE))
    mock = start_mock("--skills", str(tmp / "skills.yaml"))
    config = gateway_config(mock)
    gw = start_gateway(config, tmp)
    config_path = next(tmp.glob("turnout-*.yaml"))
    yield {"tmp": tmp, "mock": mock, "gw": gw, "config": config_path}
    gw.stop()
    mock.stop()


def _ask(client: openai.OpenAI, text: str) -> tuple[str, str, str, dict[str, str]]:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": text}]
    )
    answer = raw.parse().choices[0].message.content or ""
    headers = dict(raw.headers)
    return headers["x-request-id"], headers["x-turnout-deployment"], answer, headers


def test_traffic_labels_train_eval_deploy(world: dict[str, Any]) -> None:
    tmp, gw = world["tmp"], world["gw"]
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)

    # 1. Traffic: each prompt twice in a row, so round-robin gives it to both deployments.
    answered: list[tuple[str, str, str, int]] = []
    for i in range(N_PROMPTS):
        text, _ = prompt(i)
        for _ in range(2):
            rid, deployment, answer, _h = _ask(client, text)
            answered.append((rid, deployment, answer, i))
    by_deployment = Counter(d for _, d, _, _ in answered)
    assert by_deployment == {"mock/cheap-1": N_PROMPTS, "mock/strong-1": N_PROMPTS}

    # 2. Labels: the application rates the answers of the even cases (a user notices a wrong
    # answer); the judge rates the rest.
    feedback = 0
    for rid, _, answer, i in answered:
        if i % 4 in (0, 1):
            thumbs = "up" if answer.startswith("Verdict: correct.") else "down"
            r = httpx.post(gw.url + "/v1/feedback", json={"request_id": rid, "thumbs": thumbs})
            assert r.status_code == 200, r.text
            assert r.json()["score"] == (1.0 if thumbs == "up" else 0.0)
            feedback += 1
    bad = httpx.post(gw.url + "/v1/feedback", json={"request_id": "x", "score": 2})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "score"

    wait_for("the request log", lambda: _logged(gw) >= 2 * N_PROMPTS)
    wait_for("the captures", lambda: len(list((tmp / "captures").glob("*.json"))) >= 2 * N_PROMPTS)
    label = ["label", "-c", str(world["config"]), "--judge", "judge-1", "--model", "auto",
             "--url", gw.url]  # fmt: skip
    judged = cli(tmp, *label).stdout  # the answers the application did not rate
    assert f"{2 * N_PROMPTS - feedback} answers judged" in judged, judged
    assert f"{2 * N_PROMPTS - feedback} labels from judge-1" in judged
    assert "0 answers judged" in cli(tmp, *label).stdout  # already rated: not paid twice
    compared = cli(tmp, *label, "--rated").stdout  # the rest, to compare with the users
    assert f"{feedback} answers judged" in compared

    # 3. Export: one labelled row per answered request.
    exported = cli(tmp, "export", "-c", str(world["config"]), "--model", "auto",
                   "--out", "data.parquet")  # fmt: skip
    assert f"{2 * N_PROMPTS} rows" in exported.stdout
    assert f"agree on {feedback} of {feedback} answers both rated (100%)" in exported.stdout
    rows = _read(tmp / "data.parquet")
    assert len(rows) == 2 * N_PROMPTS
    assert sum(r["source"] == "feedback" for r in rows) == feedback
    assert {r["deployment"] for r in rows} == {"mock/cheap-1", "mock/strong-1"}
    assert all(r["cost"] and r["cost"] > 0 for r in rows)
    # Feedback and judge agree where both exist: both read the answer's verdict.
    both = [r for r in rows if r["feedback"] is not None and r["judge"] is not None]
    assert both and all((r["feedback"] == 1.0) == (r["judge"] > 0.5) for r in both)

    # 4. Train and evaluate on held-out prompts.
    trained = cli(tmp, "train", "--data", "data.parquet", "--kind", "knn", "--dims", "64",
                  "--test-size", "0.3")  # fmt: skip
    assert "stored v0001" in trained.stdout
    cli(tmp, "eval", "v0001")
    report = json.loads((tmp / "routers" / "v0001" / "eval.json").read_text())
    assert (tmp / "routers" / "v0001" / "eval.png").read_bytes()[:4] == b"\x89PNG"
    assert report["weak"] == "mock/cheap-1" and report["strong"] == "mock/strong-1"
    assert report["paired_prompts"] >= 40
    curves = report["curves"]
    assert curves["random"]["apgr"] == 0.5
    assert curves["router"]["apgr"] >= curves["random"]["apgr"] + 0.15, curves["router"]
    assert curves["router"]["cpt80"] < 0.7
    manifest = json.loads((tmp / "routers" / "v0001" / "manifest.json").read_text())
    assert manifest["data"]["fingerprint"].startswith("sha256:")
    assert manifest["metrics"]["router_apgr"] == curves["router"]["apgr"]
    world["report"] = report


def _logged(gw: Proc) -> int:
    r = httpx.get(gw.url + "/admin/usage", params={"group_by": "model"})
    groups = {g["group"]: g["requests"] for g in r.json()["groups"]}
    return int(groups.get("auto", 0))


def _read(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def test_serving_without_a_learned_strategy_does_not_import_scikit_learn(tmp_path: Path) -> None:
    script = """
import asyncio, json, sys
from turnout.app import create_app
from turnout.config.compile import compile_config
from turnout.config.load import parse_raw
raw = json.loads(sys.argv[1])
app = create_app(compile_config(parse_raw(raw, {}, "test")))
asyncio.run(app.startup())
heavy = sorted(m for m in ("sklearn", "scipy", "pyarrow", "matplotlib") if m in sys.modules)
print(json.dumps(heavy))
asyncio.run(app.shutdown())
"""
    plain = {
        "providers": {"m": {"type": "mock"}},
        "models": {"a": {"deployments": [{"provider": "m", "model": "x"}]}},
        "storage": {"url": "memory://"},
    }
    out = subprocess.run([sys.executable, "-c", script, json.dumps(plain)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_a_router_with_embeddings_from_the_gateway(tmp_path: Path) -> None:
    """Training fetches prompt embeddings over HTTP from the gateway; the served router fetches
    them in process through its own router, and routes on them."""
    from tests.unit.router.synth import rows as synth_rows
    from turnout.router.dataset import write_rows

    mock = start_mock()
    config: dict[str, Any] = {
        "providers": {"mock": mock_provider(mock)},
        "models": {"embed": {"deployments": [{"provider": "mock", "model": "embed-1"}]}},
        "storage": {"url": "memory://"},
    }
    gw = start_gateway(config, tmp_path, ready_within=90)
    try:
        write_rows(tmp_path / "rows.jsonl", synth_rows(200))
        trained = cli(tmp_path, "train", "--data", "rows.jsonl", "--dims", "16",
                      "--embeddings", "embed", "--url", gw.url)  # fmt: skip
        assert "stored v0001" in trained.stdout
        manifest = json.loads((tmp_path / "routers" / "v0001" / "manifest.json").read_text())
        assert manifest["features"]["embedding_dims"] > 0
        assert manifest["features"]["config"]["embedding_model"] == "embed"
        assert list((tmp_path / "routers" / ".embeddings").glob("*.jsonl"))  # cached on disk
    finally:
        gw.stop()
    config["models"]["auto"] = {
        "strategy": "knn",
        "strategy_options": {"router_version": "v0001"},
        "deployments": [{"provider": "mock", "model": "cheap-1"},
                        {"provider": "mock", "model": "strong-1"}],
    }  # fmt: skip
    gw = start_gateway(config, tmp_path, ready_within=90)
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
        for text in ("What is the capital of Peru?", "Prove that 2 + 2 = 4, rigorously."):
            _, deployment, _, headers = _ask(client, text)
            assert "pick=" in headers["x-turnout-route-score"], headers
            assert headers["x-turnout-route-score"].split("; ")[1] == f"pick={deployment}"
        line = wait_for("a route log line", lambda: _route_line(gw))
        assert line["route"]["router"] == "v0001" and "error" not in line["route"]
    finally:
        gw.stop()
        mock.stop()


def _route_line(gw: Proc) -> dict[str, Any] | None:
    for raw in gw.output().splitlines():
        if raw.startswith("{") and '"route"' in raw:
            line: dict[str, Any] = json.loads(raw)
            if line.get("event") == "request":
                return line
    return None


def test_deploy_reloads_the_gateway_and_rollback_restores(world: dict[str, Any]) -> None:
    """``turnout router deploy`` against the running gateway: the config file is edited, the
    gateway reloads (POST /admin/config/reload) and routes by the router version; ``rollback``
    puts the previous strategy back, live too."""
    tmp, gw, config = world["tmp"], world["gw"], str(world["config"])
    assert (tmp / "routers" / "v0001" / "manifest.json").exists(), "trained by the test above"
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
    deployed = cli(tmp, "deploy", "v0001", "--model", "auto", "-c", config, "--url", gw.url)
    assert "config version" in deployed.stdout, deployed.stdout
    assert "knn" in Path(config).read_text()
    picks = []
    for i in range(0, 40, 2):  # easy prompts: the router sends most to the cheap deployment
        _, deployment, _, headers = _ask(client, prompt(i)[0])
        assert headers["x-turnout-route-score"].split("; ")[1] == f"pick={deployment}"
        picks.append(deployment)
    assert Counter(picks)["mock/cheap-1"] > len(picks) // 2, Counter(picks)
    live = httpx.get(gw.url + "/admin/config").json()["live"]
    assert live["last_error"] is None and live["generation"] >= 2

    rolled = cli(tmp, "rollback", "--model", "auto", "-c", config, "--url", gw.url)
    assert "round-robin" in rolled.stdout, rolled.stdout
    seen = []
    for i in range(4):
        _, deployment, _, headers = _ask(client, prompt(0)[0] + f" again {i}")
        assert "x-turnout-route-score" not in headers
        seen.append(deployment)
    assert set(seen) == {"mock/cheap-1", "mock/strong-1"}  # round-robin again
