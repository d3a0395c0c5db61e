from __future__ import annotations

import pytest

from turnout.config.compile import compile_config
from turnout.config.schema import TurnoutConfig
from turnout.pricing import Price, PriceTable, bundled
from turnout.types import Usage


def test_cached_and_reasoning_tokens_are_priced_instead_of_plain_ones() -> None:
    price = Price(input=2.0, output=8.0, cached_input=0.5, reasoning=10.0)
    # 1000 input of which 400 cached; 500 output of which 100 reasoning
    cost = price.cost(Usage(1000, 500, 400, 100))
    assert cost == pytest.approx((600 * 2.0 + 400 * 0.5 + 400 * 8.0 + 100 * 10.0) / 1e6)


def test_defaults_price_cached_as_input_and_reasoning_as_output() -> None:
    price = Price(input=1.0, output=3.0)
    assert price.cost(Usage(10, 10, 5, 5)) == pytest.approx((10 * 1.0 + 10 * 3.0) / 1e6)


def test_bundled_table_is_well_formed() -> None:
    table = bundled()
    assert len(table) > 30
    for name, price in table.items():
        assert name == name.lower() and price.input >= 0 and price.output >= 0, name
    assert table["gpt-4o"] == Price(2.5, 10.0, 1.25)


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("GPT-4.1", "gpt-4.1"),
        ("o3-mini", "o3-mini"),
        # the clouds' spellings: Bedrock ids, inference profiles and ARNs; Vertex AI versions
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        (
            "arn:aws:bedrock:us-east-1:1:inference-profile/global.anthropic.claude-opus-4-1-v1:0",
            "claude-opus-4-1",
        ),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
    ],
)
def test_dated_and_prefixed_names_find_their_model(upstream: str, expected: str) -> None:
    table = PriceTable(table=bundled())
    assert table.price("public", f"openai/{upstream}") == bundled()[expected]


def test_unknown_models_have_no_cost_not_zero() -> None:
    table = PriceTable(table=bundled())
    assert table.price("mine", "local/llama-3-70b") is None
    assert table.cost("mine", "local/llama-3-70b", Usage(10, 10)) is None
    assert table.cost("gpt-4o", "openai/gpt-4o", None) is None


def _runtime(extra: dict[str, object]) -> PriceTable:
    cfg = TurnoutConfig.model_validate(
        {
            "providers": {"p": {"type": "mock"}, "q": {"type": "mock"}},
            "models": {
                "fast": {"deployments": [{"provider": "p", "model": "gpt-4o"}]},
                "cheap": {
                    "deployments": [
                        {"provider": "q", "model": "own", "price": {"input": 7, "output": 9}}
                    ]
                },
            },
            **extra,
        }
    )
    return PriceTable.from_runtime(compile_config(cfg))


def test_config_overrides_win_over_deployment_and_bundled_prices() -> None:
    table = _runtime({"pricing": {"models": {"fast": {"input": 1, "output": 2}}}})
    assert table.price("fast", "p/gpt-4o") == Price(1.0, 2.0)
    assert table.price("cheap", "q/own") == Price(7.0, 9.0)  # the deployment's own price
    by_upstream = _runtime({"pricing": {"models": {"gpt-4o": {"input": 3}}}})
    assert by_upstream.price("fast", "p/gpt-4o") == Price(3.0, 0.0)
    by_label = _runtime({"pricing": {"models": {"p/gpt-4o": {"input": 4}}}})
    assert by_label.price("fast", "p/gpt-4o") == Price(4.0, 0.0)


def test_bundled_table_can_be_switched_off() -> None:
    assert _runtime({}).price("fast", "p/gpt-4o") == bundled()["gpt-4o"]
    assert _runtime({"pricing": {"bundled": False}}).price("fast", "p/gpt-4o") is None
