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


# Each name a client or an operator may write, and the bundled entry it is priced as (None: no
# price). Only a snapshot's spelling (a date, Google's -00N, -latest, a cloud's version) may be
# dropped to find its model; any other suffix names another model, at another price.
LOOKUPS: list[tuple[str, str | None]] = [
    # vendors' dated snapshots and aliases
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # the first gpt-4o: $5/$15, listed on its own
    ("gpt-5-2025-08-07", "gpt-5"),
    ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
    ("o3-2025-04-16", "o3"),
    ("o3-mini", "o3-mini"),
    ("GPT-4.1", "gpt-4.1"),
    ("gpt-4.1-2025-04-14", "gpt-4.1"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-opus-4-20250514", "claude-opus-4"),
    ("claude-opus-4-0", "claude-opus-4-0"),
    ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
    ("gemini-2.0-flash-001", "gemini-2.0-flash"),
    ("gemini-1.5-pro-002", "gemini-1.5-pro"),
    ("gemini-1.5-flash-latest", "gemini-1.5-flash"),
    ("gemini-embedding-001", "gemini-embedding-001"),
    ("text-embedding-004", "text-embedding-004"),
    ("models/gemini-2.5-pro", "gemini-2.5-pro"),
    # the clouds' spellings: Bedrock ids, inference profiles and ARNs; Vertex AI versions
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
    (
        "arn:aws:bedrock:us-east-1:1:inference-profile/global.anthropic.claude-opus-4-1-v1:0",
        "claude-opus-4-1",
    ),
    ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
    ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
    ("publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
    (
        "projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash-001",
        "gemini-2.0-flash",
    ),
    # other models, whose names merely begin with a priced one: no price, not the prefix's
    ("gpt-5-pro", "gpt-5-pro"),  # $15/$120, listed; it was billed as gpt-5 ($1.25/$10)
    ("gpt-5-pro-2025-10-06", "gpt-5-pro"),
    ("o3-pro", "o3-pro"),
    ("gpt-5-codex", None),
    ("gpt-5-chat-latest", None),
    ("gpt-4o-anything", None),
    ("gpt-4o-audio-preview", None),
    ("gpt-4o-audio-preview-2024-12-17", None),
    ("gpt-4o-mini-tts", None),
    ("gpt-4.5-preview", None),
    ("gpt-4-32k", None),
    # MMDD snapshots of gpt-3.5 and gpt-4 were priced apart (-1106 twice -0125): each listed
    # one has its own entry, the others no price.
    ("gpt-4-0613", "gpt-4-0613"),
    ("gpt-3.5-turbo-0125", "gpt-3.5-turbo-0125"),
    ("gpt-3.5-turbo-1106", None),
    ("gpt-4-0314", None),
    ("gemini-1.5-flash-8b", None),  # half of gemini-1.5-flash's price
    ("o3-deep-research", None),
    ("o1-preview", None),
    ("claude-3-sonnet-20240229", None),
    ("gemini-2.5-flash-image", None),  # writes images at $30 per million tokens
    ("gemini-2.5-flash-preview-05-20", None),  # the preview's own price ($0.15/$0.60)
    ("gemini-2.5-pro-preview-06-05", None),
    ("gemini-2.0-flash-exp", None),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0:200k", None),
    ("gpt-5-", None),
    ("-latest", None),
    ("", None),
    ("mine", None),
]


@pytest.mark.parametrize(("upstream", "expected"), LOOKUPS)
def test_a_name_is_priced_as_its_model_or_not_at_all(upstream: str, expected: str | None) -> None:
    table = PriceTable(table=bundled())
    want = None if expected is None else bundled()[expected]
    assert table.price("public", f"openai/{upstream}") == want
    assert table.price(upstream, None) == want  # a public name on a glob route is upstream's


def test_a_prefix_of_a_priced_name_is_not_priced_as_it() -> None:
    """Before: ``gpt-5-pro`` cost ``gpt-5``'s $10 per million output tokens (it lists $120),
    and any suffix a client chose on a glob route found its base model's price."""
    table = PriceTable(table={"gpt-5": Price(1.25, 10.0)})
    assert table.price("gpt-5-pro", "openai/gpt-5-pro") is None
    assert table.price("gpt-5-whatever", "openai/gpt-5-whatever") is None
    assert table.price("gpt-5-2025-08-07", "openai/gpt-5-2025-08-07") == Price(1.25, 10.0)


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
