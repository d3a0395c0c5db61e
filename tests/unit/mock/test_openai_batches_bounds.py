"""The mock's OpenAI batches keep each line's answer until the batch leaves: in a gateway's
in-process mock (``type: mock``) a key's 1000 batches of a 10,000-line file held ten million
answers. The answers held together are bounded; the oldest batches leave past the bound."""

from __future__ import annotations

import orjson

from turnout.mock.openai_batches import MockOpenAIBatches

CHAT = "/v1/chat/completions"


def _upload(mock: MockOpenAIBatches, lines: int) -> str:
    line = {"custom_id": "", "method": "POST", "url": CHAT, "body": {"model": "m", "messages": []}}
    data = b"".join(orjson.dumps({**line, "custom_id": f"c{n}"}) + b"\n" for n in range(lines))
    body = (
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.jsonl"\r\n\r\n'
        + data
        + b"\r\n--b--\r\n"
    )
    resp = mock.respond(
        "POST", "/v1/files", "", {"content-type": "multipart/form-data; boundary=b"}, body
    )
    assert resp.status == 200, resp.body
    file_id: str = orjson.loads(resp.body or b"")["id"]
    return file_id


def test_the_answers_held_together_are_bounded() -> None:
    mock = MockOpenAIBatches(max_answers=50)
    file_id = _upload(mock, 20)
    made = []
    for _ in range(6):
        request = {"input_file_id": file_id, "endpoint": CHAT, "completion_window": "24h"}
        resp = mock.respond("POST", "/v1/batches", "", {}, orjson.dumps(request))
        assert resp.status == 200, resp.body
        made.append(orjson.loads(resp.body or b"")["id"])
    assert mock.held_answers <= 50
    last = mock.respond("GET", f"/v1/batches/{made[-1]}", "", {}, b"")
    assert last.status == 200
    first = mock.respond("GET", f"/v1/batches/{made[0]}", "", {}, b"")
    assert first.status == 404  # the oldest left
