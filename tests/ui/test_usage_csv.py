"""The Usage page's CSV export in headless Chromium: a group name a client chose (the model of
a request the gateway refused with a 404 is logged as asked, and ``@A1+A2`` is a valid model
name) must not reach the file as a formula a spreadsheet would run (CSV injection). Before,
the cell was ``@A1+A2``; now it is ``'@A1+A2``. A gateway of its own, traffic sent with the
official OpenAI SDK."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import Browser

from tests.support.procs import Proc, mock_provider, start_gateway
from tests.support.wait import until
from tests.ui.conftest import ADMIN, MASTER, Tab

pytestmark = pytest.mark.timeout(300)
FORMULA = "@A1+A2"  # a valid model name: letters, digits, @ and +


@pytest.fixture(scope="module")
def gateway(mock: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    config = {
        "providers": {"primary": mock_provider(mock)},
        "models": {"gpt-test": {"deployments": [{"provider": "primary", "model": "mock-gpt"}]}},
        "storage": {"flush_interval": 0.05},
    }
    tmp = tmp_path_factory.mktemp("ui-usage-csv")
    proc = start_gateway(config, tmp, "--host", "127.0.0.1", env={"TURNOUT_MASTER_KEY": MASTER})
    try:
        client = openai.OpenAI(base_url=proc.url + "/v1", api_key=MASTER, max_retries=0)
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "a plain question"}]
        )
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model=FORMULA, messages=[{"role": "user", "content": "hi"}]
            )
        series = proc.url + "/admin/stats/series?group_by=model&from=24h"
        until(
            lambda: (
                {g["group"] for g in httpx.get(series, headers=ADMIN).json()["groups"]}
                == {"gpt-test", FORMULA}
            ),
            limit=20,
        )
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def tab(browser: Browser, gateway: Proc) -> Iterator[Tab]:
    t = Tab(browser, gateway.url)
    yield t
    t.close()


def test_a_group_a_client_named_is_exported_as_text(tab: Tab) -> None:
    page = tab.sign_in(MASTER)
    tab.open("usage")
    page.get_by_role("button", name="Model", exact=True).click()
    with page.expect_download() as download:
        page.get_by_test_id("usage-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["model"] for r in rows} == {"gpt-test", "'" + FORMULA}
    assert sum(int(r["requests"]) for r in rows) == 2  # numbers are left as they are
