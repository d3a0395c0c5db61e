"""A gateway's /metrics, read with Prometheus' own text parser."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.procs import Proc

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(gw: Proc) -> Samples:
    """Every sample on /metrics, by (name, labels)."""
    text = httpx.get(gw.url + "/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
