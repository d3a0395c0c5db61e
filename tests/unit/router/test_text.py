"""What a router reads from requests, and a judge from answers, in all three protocols."""

from __future__ import annotations

from turnout.router.text import answer_text, prompt_text, stream_text


def test_prompt_in_every_protocol() -> None:
    openai = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "second"}]},
        ]
    }
    assert prompt_text(openai, "openai") == "Be brief.\nsecond"
    anthropic = {
        "system": [{"type": "text", "text": "S"}],
        "messages": [{"role": "user", "content": "hello"}],
    }
    assert prompt_text(anthropic, "anthropic") == "S\nhello"
    gemini = {
        "systemInstruction": {"parts": [{"text": "G"}]},
        "contents": [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}],
    }
    assert prompt_text(gemini, "gemini") == "G\na\nb"
    assert (
        prompt_text({"messages": [{"role": "user", "content": "x" * 50}]}, "openai", 10) == "x" * 10
    )


def test_hostile_shapes_give_less_text_not_errors() -> None:
    for data in (
        {"messages": "nope"},
        {"messages": [None, 3, {"role": "user", "content": 5}]},
        {"contents": {"x": 1}},
        {},
    ):
        for protocol in ("openai", "anthropic", "gemini"):
            assert prompt_text(data, protocol) == ""


def test_answers_whole_and_streamed() -> None:
    assert answer_text({"choices": [{"message": {"content": "hi"}}]}, "openai") == "hi"
    assert answer_text({"content": [{"type": "text", "text": "yo"}]}, "anthropic") == "yo"
    gemini = {"candidates": [{"content": {"parts": [{"text": "g"}]}}]}
    assert answer_text(gemini, "gemini") == "g"
    chunks = [
        'data: {"choices":[{"delta":{"content":"a"}}]}\n\n',
        'data: {"choices":[{"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n',
    ]
    assert stream_text(chunks, "openai") == "ab"
    anth = [
        'event: content_block_delta\ndata: {"type":"content_block_delta",'
        '"delta":{"type":"text_delta","text":"x"}}\n\n'
    ]
    assert stream_text(anth, "anthropic") == "x"
    assert stream_text(['[{"candidates":[{"content":{"parts":[{"text":"p"}]}}]}]'], "gemini") == "p"
    assert stream_text(["data: {broken\n\n"], "openai") == ""
