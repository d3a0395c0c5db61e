"""The models page writes through the live-configuration API: a provider and a model created
in the browser serve at once (called with the OpenAI SDK), a refused model shows every
problem, and a model deleted in the browser stops serving."""

from __future__ import annotations

import httpx
import openai
import pytest
from playwright.sync_api import expect

from tests.support.procs import Proc
from tests.ui.conftest import ADMIN, MASTER, Dash, Tab

pytestmark = pytest.mark.timeout(300)


def test_a_model_added_in_the_ui_serves_through_the_sdk(tab: Tab, dash: Dash, mock: Proc) -> None:
    tab.allowed = (401, 422)  # the refused model below is expected
    page = tab.sign_in(MASTER)
    tab.open("models")
    provider = page.get_by_test_id("provider-form")
    provider.locator('input[name="name"]').fill("ui-upstream")
    provider.locator('select[name="type"]').select_option("openai-compatible")
    provider.locator('input[name="base_url"]').fill(f"{mock.url}/v1")
    provider.locator('textarea[name="api_keys"]').fill("sk-ui-upstream-0123456789")
    page.get_by_test_id("provider-save").click()
    expect(
        page.locator('[data-testid="providers-table"] tr[data-provider="ui-upstream"]')
    ).to_be_visible()

    form = page.get_by_test_id("model-form")
    form.locator('input[name="name"]').fill("ui-model")
    row = form.get_by_test_id("deployment-row").first
    row.locator('select[name="provider"]').select_option("ui-upstream")
    row.locator('input[name="model"]').fill("from-the-ui")
    page.get_by_test_id("model-save").click()
    model_row = page.locator('[data-testid="models-table"] tr[data-model="ui-model"]')
    expect(model_row).to_contain_text("ui-upstream/from-the-ui")
    expect(model_row).to_contain_text("database")

    client = openai.OpenAI(
        base_url=dash.url + "/v1", api_key=dash.keys["batch-jobs"], max_retries=0
    )
    raw = client.chat.completions.with_raw_response.create(
        model="ui-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-turnout-deployment"] == "ui-upstream/from-the-ui"
    assert raw.parse().choices[0].message.content
    listed = httpx.get(dash.url + "/admin/providers", headers=ADMIN).text
    assert "sk-ui-upstream-0123456789" not in listed  # sealed, shown masked

    # A model naming no provider: every problem listed, nothing applied.
    form.locator('input[name="name"]').fill("ui-broken")
    row.locator('select[name="provider"]').select_option("ui-upstream")
    row.locator('input[name="model"]').fill("x")
    form.locator('input[name="weight"]').fill("0")
    page.get_by_test_id("model-save").click()
    expect(page.get_by_test_id("problems")).to_contain_text("weight")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="ui-broken", messages=[{"role": "user", "content": "hi"}]
        )

    page.once("dialog", lambda dialog: dialog.accept())
    model_row.get_by_test_id("model-delete").click()
    expect(model_row).to_have_count(0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="ui-model", messages=[{"role": "user", "content": "hi"}]
        )
