"""The mock provider over real sockets, judged by the official SDKs (and by raw HTTP/1.1).

The server runs in a background thread with its own (uv)loop so the SDKs' blocking clients
can be used as-is; one test starts ``python -m turnout.mock`` as a real process.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httptools
import httpx
import openai
import pytest
import uvloop
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from turnout.mock.server import MockServer, start_mock_server

MESSAGES: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
FIRST = {"x-mock-tools": "first"}  # call the offered tool although the prompt does not name it
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
}
OPENAI_TOOL: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA},
}


def fits_weather_schema(args: dict[str, Any]) -> bool:
    return (
        set(args) == {"city", "unit", "days"}
        and isinstance(args["city"], str)
        and args["unit"] in ("celsius", "fahrenheit")
        and isinstance(args["days"], int)
        and 1 <= args["days"] <= 7
    )


class ThreadedMock:
    """A mock server on its own event loop thread."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        ready = threading.Event()
        self.server: MockServer | None = None

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(start_mock_server())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="mock-server", daemon=True)
        self.thread.start()
        assert ready.wait(5), "mock server did not start"
        assert self.server is not None
        self.url: str = self.server.url
        self.port: int = self.server.port

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.url}/_mock/stats").json()
        return data

    def close(self) -> None:
        assert self.server is not None
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMock]:
    server = ThreadedMock()
    yield server
    server.close()


@pytest.fixture
def oai(mock: ThreadedMock) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(
        api_key="sk-test",
        base_url=f"{mock.url}/v1",
        max_retries=0,
        _strict_response_validation=True,
    )
    yield client
    client.close()


@pytest.fixture
def claude(mock: ThreadedMock) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=mock.url, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def gem(mock: ThreadedMock) -> genai.Client:
    options = types.HttpOptions(base_url=f"{mock.url}/", api_version="v1beta")
    return genai.Client(api_key="g-test", http_options=options)


# --- OpenAI ---------------------------------------------------------------------------------


def test_openai_chat_non_stream(oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-test", messages=MESSAGES, extra_headers={"x-mock-tokens": "5"}
    )
    completion = raw.parse()
    assert completion.model == "gpt-test"
    assert completion.choices[0].message.content == "Lorem ipsum dolor sit amet"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    assert raw.headers["x-mock-request-model"] == "gpt-test"
    assert raw.headers["x-mock-auth"] == "bearer"


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_chat_stream(oai: openai.OpenAI, include_usage: bool) -> None:
    stream = oai.chat.completions.create(
        model="gpt-test",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": include_usage},
        extra_headers={"x-mock-tokens": "20"},
    )
    chunks = list(stream)
    contents = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(contents) == 20
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == (1 if include_usage else 0)
    if include_usage:
        assert chunks[-1].choices == [] and usage[0].completion_tokens == 20


def test_openai_tool_call_non_stream(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="m", messages=MESSAGES, tools=[OPENAI_TOOL], extra_headers=FIRST
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert fits_weather_schema(json.loads(call.function.arguments))


def test_openai_tool_call_stream_helper(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="m", messages=MESSAGES, tools=[OPENAI_TOOL], extra_headers=FIRST
    ) as stream:
        fragments = [e for e in stream if e.type == "tool_calls.function.arguments.delta"]
        final = stream.get_final_completion()
    assert len(fragments) >= 2
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    assert fits_weather_schema(json.loads(call.function.arguments))


def test_openai_embeddings_and_models(mock: ThreadedMock, oai: openai.OpenAI) -> None:
    # Strict validation runs before the SDK decodes its own default (base64) encoding, so the
    # strict client asks for floats and a lax client checks the base64 path.
    emb = oai.embeddings.create(
        model="text-embed", input=["one", "two"], dimensions=6, encoding_format="float"
    )
    assert [len(d.embedding) for d in emb.data] == [6, 6]
    assert emb.usage.total_tokens == 2
    with openai.OpenAI(api_key="sk", base_url=f"{mock.url}/v1", max_retries=0) as lax:
        b64 = lax.embeddings.create(model="e", input="one", dimensions=6)
    assert b64.data[0].embedding == pytest.approx(emb.data[0].embedding, abs=1e-6)
    ids = [m.id for m in oai.models.list()]
    assert len(ids) >= 3


def test_openai_errors_are_typed(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as rate:
        oai.chat.completions.create(
            model="m",
            messages=MESSAGES,
            extra_headers={"x-mock-status": "429", "x-mock-retry-after": "7"},
        )
    assert rate.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={"x-mock-status": "503"}
        )
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="m", messages=[])


def test_openai_disconnect_mid_stream_raises(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, extra_headers={"x-mock-fault": "disconnect"}
    )
    got: list[Any] = []
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        got.extend(stream)
    assert got  # the first half arrived before the reset


def test_openai_truncate_and_error_midstream(oai: openai.OpenAI) -> None:
    headers = {"x-mock-fault": "truncate", "x-mock-tokens": "6"}
    with oai.chat.completions.with_streaming_response.create(
        model="m", messages=MESSAGES, stream=True, extra_headers=headers
    ) as resp:
        text = resp.read().decode()
    assert "finish_reason" in text and "[DONE]" not in text
    with pytest.raises(openai.APIError):
        list(
            oai.chat.completions.create(
                model="m",
                messages=MESSAGES,
                stream=True,
                extra_headers={"x-mock-fault": "error-midstream"},
            )
        )


def test_openai_hang_times_out(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.3).chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={"x-mock-fault": "hang"}
        )


# --- Anthropic ------------------------------------------------------------------------------


def test_anthropic_messages(claude: anthropic.Anthropic) -> None:
    raw = claude.messages.with_raw_response.create(
        model="claude-test", max_tokens=64, messages=MESSAGES, extra_headers={"x-mock-tokens": "4"}
    )
    msg = raw.parse()
    assert msg.model == "claude-test" and msg.stop_reason == "end_turn"
    assert msg.content[0].type == "text" and msg.content[0].text == "Lorem ipsum dolor sit"
    assert msg.usage.output_tokens == 4
    assert raw.headers["x-mock-auth"] in ("bearer", "x-api-key")


def test_anthropic_stream_helper(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="c", max_tokens=64, messages=MESSAGES, extra_headers={"x-mock-tokens": "7"}
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Lorem ipsum dolor sit amet consectetur adipiscing"
    assert final.usage.output_tokens == 7 and final.stop_reason == "end_turn"


def test_anthropic_tool_use_and_thinking(claude: anthropic.Anthropic) -> None:
    tool: Any = {"name": "get_weather", "input_schema": WEATHER_SCHEMA}
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    msg = claude.messages.create(
        model="c",
        max_tokens=2048,
        messages=MESSAGES,
        tools=[tool],
        thinking=thinking,
        extra_headers=FIRST,
    )
    assert msg.stop_reason == "tool_use"
    assert [b.type for b in msg.content] == ["thinking", "tool_use"]
    block = msg.content[1]
    assert block.type == "tool_use" and fits_weather_schema(block.input)
    with claude.messages.stream(
        model="c",
        max_tokens=2048,
        messages=MESSAGES,
        tools=[tool],
        thinking=thinking,
        extra_headers=FIRST,
    ) as stream:
        final = stream.get_final_message()
    first = final.content[0]
    assert first.type == "thinking" and first.signature
    assert final.content[1].type == "tool_use" and fits_weather_schema(final.content[1].input)
    # The signature comes back on the next turn and the mock counts it.
    follow: Any = [
        *MESSAGES,
        {"role": "assistant", "content": [b.model_dump() for b in final.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": final.content[1].id, "content": "hail"}
            ],
        },
    ]
    raw = claude.messages.with_raw_response.create(
        model="c", max_tokens=2048, messages=follow, tools=[tool], thinking=thinking
    )
    assert raw.headers["x-mock-signatures-received"] == "1"
    answer = raw.parse()
    assert answer.stop_reason == "end_turn"
    assert "hail" in "".join(b.text for b in answer.content if b.type == "text")


def test_anthropic_overloaded(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIStatusError) as exc:
        claude.messages.create(
            model="c", max_tokens=8, messages=MESSAGES, extra_headers={"x-mock-status": "529"}
        )
    assert exc.value.status_code == 529
    with (
        pytest.raises(anthropic.APIStatusError),
        claude.messages.stream(
            model="c",
            max_tokens=8,
            messages=MESSAGES,
            extra_headers={"x-mock-fault": "error-midstream"},
        ) as stream,
    ):
        stream.until_done()


# --- Gemini ---------------------------------------------------------------------------------


def test_gemini_generate_and_stream(gem: genai.Client) -> None:
    config = types.GenerateContentConfig(
        http_options=types.HttpOptions(headers={"x-mock-tokens": "3"})
    )
    resp = gem.models.generate_content(model="gemini-test", contents="Hello there", config=config)
    assert resp.text == "Lorem ipsum dolor"
    assert resp.usage_metadata is not None and resp.usage_metadata.candidates_token_count == 3
    chunks = list(
        gem.models.generate_content_stream(model="gemini-test", contents="Hi", config=config)
    )
    assert "".join(c.text or "" for c in chunks) == "Lorem ipsum dolor"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]


def test_gemini_function_call_with_thoughts(gem: genai.Client) -> None:
    decl = types.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER_SCHEMA)
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[decl])],
        thinking_config=types.ThinkingConfig(include_thoughts=True),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        http_options=types.HttpOptions(headers=FIRST),
    )
    resp = gem.models.generate_content(model="g", contents="Weather?", config=config)
    assert resp.function_calls is not None
    call = resp.function_calls[0]
    assert call.name == "get_weather" and fits_weather_schema(dict(call.args or {}))
    parts = resp.candidates[0].content.parts  # type: ignore[index, union-attr]
    assert parts is not None and parts[0].thought is True
    assert parts[-1].thought_signature


def test_gemini_count_tokens_and_embed(gem: genai.Client) -> None:
    count = gem.models.count_tokens(model="g", contents="What is the weather in Paris?")
    assert count.total_tokens == 8
    texts: Any = ["one", "two"]  # the SDK embeds each string of a list separately
    emb = gem.models.embed_content(model="e", contents=texts)
    assert emb.embeddings is not None and [len(e.values or []) for e in emb.embeddings] == [8, 8]


def test_gemini_errors(gem: genai.Client) -> None:
    config = types.GenerateContentConfig(
        http_options=types.HttpOptions(headers={"x-mock-status": "429"})
    )
    with pytest.raises(genai_errors.ClientError) as exc:
        gem.models.generate_content(model="g", contents="x", config=config)
    assert exc.value.code == 429
    midstream = types.GenerateContentConfig(
        http_options=types.HttpOptions(headers={"x-mock-fault": "error-midstream"})
    )
    with pytest.raises(genai_errors.APIError):
        list(gem.models.generate_content_stream(model="g", contents="x", config=midstream))


# --- raw HTTP/1.1 behaviour -------------------------------------------------------------------


class _Responses:
    """Collect complete responses from a byte stream (keep-alive, pipelining, chunked)."""

    def __init__(self) -> None:
        self.done: list[tuple[int, dict[bytes, bytes], bytes]] = []
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.done.append((self.parser.get_status_code(), self._headers, b"".join(self._body)))
        self._headers, self._body = {}, []


def exchange(port: int, payloads: list[bytes], expect: int, pause: float = 0.0) -> Any:
    out = _Responses()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for piece in payloads:
            sock.sendall(piece)
            if pause:
                time.sleep(pause)
        while len(out.done) < expect:
            data = sock.recv(65536)
            if not data:
                break
            out.parser.feed_data(data)
    return out.done


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n%s"
        b"content-length: %d\r\n\r\n%s" % (path.encode(), extra, len(body), body)
    )


CHAT_BODY = json.dumps({"model": "raw", "messages": MESSAGES}).encode()


def test_pipelined_and_split_requests(mock: ThreadedMock) -> None:
    stream_body = json.dumps({"model": "s", "messages": MESSAGES, "stream": True}).encode()
    pipelined = (
        post("/v1/chat/completions", CHAT_BODY)
        + post("/v1/chat/completions", stream_body, b"x-mock-tokens: 3\r\n")
        + b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n"
        + post("/v1/chat/completions", CHAT_BODY)
    )
    responses = exchange(mock.port, [pipelined], expect=4)
    assert [r[0] for r in responses] == [200, 200, 200, 200]
    assert json.loads(responses[2][2])["object"] == "list"
    assert responses[1][1][b"transfer-encoding"] == b"chunked"
    assert responses[1][2].count(b"data: ") == 1 + 3 + 1 + 1
    ids = {json.loads(responses[i][2])["id"] for i in (0, 3)}
    assert len(ids) == 2  # identical requests (cache hit) still get fresh ids
    req = post("/v1/chat/completions", CHAT_BODY)
    pieces = [req[i : i + 7] for i in range(0, len(req), 7)]
    (split,) = exchange(mock.port, pieces, expect=1, pause=0.001)
    assert split[0] == 200 and json.loads(split[2])["model"] == "raw"


def test_connection_close_and_bad_requests(mock: ThreadedMock) -> None:
    (resp,) = exchange(
        mock.port, [post("/v1/chat/completions", CHAT_BODY, b"connection: close\r\n")], 1
    )
    assert resp[0] == 200 and resp[1][b"connection"] == b"close"
    (bad,) = exchange(mock.port, [post("/v1/chat/completions", b"{oops")], 1)
    assert bad[0] == 400 and "error" in json.loads(bad[2])
    (garbage,) = exchange(mock.port, [b"NOT HTTP AT ALL\r\n\r\n"], 1)
    assert garbage[0] == 400
    (unknown,) = exchange(mock.port, [post("/v2/whatever", b"{}")], 1)
    assert unknown[0] == 404
    head = httpx.head(f"{mock.url}/v1/chat/completions")
    assert head.status_code == 404 and head.content == b""


def test_client_disconnect_is_counted(mock: ThreadedMock) -> None:
    httpx.post(f"{mock.url}/_mock/reset")
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    headers = {"x-mock-tokens": "200", "x-mock-chunk-ms": "20"}
    with httpx.stream("POST", f"{mock.url}/v1/chat/completions", json=body, headers=headers) as r:
        lines = r.iter_lines()
        next(lines)
        assert mock.stats()["active_streams"] == 1
    deadline = time.monotonic() + 2
    while mock.stats()["cancelled_streams"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    stats = mock.stats()
    assert stats["cancelled_streams"] == 1 and stats["active_streams"] == 0
    assert stats["by_path"]["/v1/chat/completions"] == 1


def test_ttft_delays_first_byte(mock: ThreadedMock) -> None:
    start = time.perf_counter()
    r = httpx.post(
        f"{mock.url}/v1/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"x-mock-ttft-ms": "150"},
    )
    assert r.status_code == 200 and time.perf_counter() - start >= 0.15


def test_module_entry_point_serves_and_stops_on_sigterm() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "turnout.mock", "--port", str(port), "--status", "503"]
    args += ["--tokens", "2", "--retry-after", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/v1/models").status_code == 200  # readiness probe unaffected
        r = httpx.post(
            f"{url}/v1/messages", json={"model": "c", "max_tokens": 5, "messages": MESSAGES}
        )
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["type"] == "error"
        ok = httpx.post(
            f"{url}/v1/messages",
            json={"model": "c", "max_tokens": 5, "messages": MESSAGES},
            headers={"x-mock-status": "200"},
        )
        assert ok.json()["usage"]["output_tokens"] == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_http10_stream_is_close_delimited(mock: ThreadedMock) -> None:
    body = json.dumps({"model": "m", "messages": MESSAGES, "stream": True}).encode()
    request = post("/v1/chat/completions", body, b"x-mock-tokens: 2\r\n").replace(
        b"HTTP/1.1", b"HTTP/1.0", 1
    )
    with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower()
    assert payload.endswith(b"data: [DONE]\n\n") and payload.count(b"data: ") == 5


def test_expect_100_continue(mock: ThreadedMock) -> None:
    request = post("/v1/chat/completions", CHAT_BODY, b"expect: 100-continue\r\n")
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as sock:
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
