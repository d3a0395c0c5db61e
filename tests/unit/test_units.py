"""The request log's millisecond durations: the same figures ``round(x * 1000, 3)`` gave."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.units import ms3

durations = st.floats(min_value=0.0, max_value=86_400.0, allow_nan=False)


@given(durations)
def test_three_decimals_at_most_half_a_microsecond_away(seconds: float) -> None:
    out = ms3(seconds)
    assert abs(out - seconds * 1000) <= 0.0005 + 1e-9 * seconds * 1000
    assert len(repr(out).partition(".")[2]) <= 3  # printed as the log shows it


def test_what_round_gave() -> None:
    for seconds in (0.0, 0.0001234, 0.0123456, 0.5, 1.25, 12.3456789, 3599.9999994):
        assert ms3(seconds) == round(seconds * 1000, 3)
