from __future__ import annotations

import pytest

from turnout.mock.settings import MockSettings, SettingsError, apply_overrides, parse_fault


def test_defaults() -> None:
    s = MockSettings()
    assert (s.status, s.retry_after, s.ttft_ms, s.chunk_ms, s.tokens, s.fault) == (
        200,
        None,
        0.0,
        0.0,
        16,
        None,
    )


def test_headers_override_defaults() -> None:
    base = MockSettings(tokens=4, chunk_ms=5)
    s = apply_overrides(
        base,
        {
            "x-mock-status": "429",
            "x-mock-retry-after": "2.5",
            "x-mock-ttft-ms": "10",
            "x-mock-tokens": "7",
            "x-mock-fault": "Truncate",
        },
    )
    assert (s.status, s.retry_after, s.ttft_ms, s.chunk_ms, s.tokens, s.fault) == (
        429,
        2.5,
        10.0,
        5,
        7,
        "truncate",
    )
    assert apply_overrides(base, {"other": "x"}) is base


@pytest.mark.parametrize(
    "headers",
    [
        {"x-mock-status": "abc"},
        {"x-mock-status": "700"},
        {"x-mock-tokens": "-1"},
        {"x-mock-ttft-ms": "nan"},
        {"x-mock-chunk-ms": "-5"},
        {"x-mock-fault": "explode"},
    ],
)
def test_bad_overrides_raise(headers: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        apply_overrides(MockSettings(), headers)


def test_fault_parsing_and_normalisation() -> None:
    assert parse_fault("none") is None
    assert parse_fault("") is None
    assert parse_fault(" hang ") == "hang"
    assert MockSettings(fault="none").fault is None  # type: ignore[arg-type]
    with pytest.raises(SettingsError):
        MockSettings(status=42)
