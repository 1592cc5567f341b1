"""Sign-in with st.login against a real OpenID Connect provider (oidc-provider-mock), in Chromium:
nothing but the sign-in shows before login; a colleague's link opens after it."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ROOT, running_server, wait_for_app
from tests.browser.oidc import oidc_provider, write_auth_secrets
from tests.ports import free_port

ALICE = {"sub": "alice@hospital.org", "email": "alice@hospital.org", "groups": ["radonc"]}


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory) -> Iterator[str]:
    """The app with sign-in on, against a provider of its own."""
    with oidc_provider([ALICE]) as issuer:
        port = free_port()
        secrets = write_auth_secrets(tmp_path_factory.mktemp("auth"), issuer, port)
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                   "--global.developmentMode", "false", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none", "--secrets.files", str(secrets)]
        with running_server(command, port=port) as url:
            yield url


def sign_in(page: Page, subject: str) -> None:
    """Press the app's sign-in button and authorize ``subject`` on the provider's form."""
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("input[name=sub]")
    page.fill("input[name=sub]", subject)
    page.get_by_role("button", name="Authorize").click()
    wait_for_app(page)


def test_nothing_but_the_sign_in_before_login(signed_app: str, page: Page):
    page.goto(f"{signed_app}/survival?survival.by=study")
    wait_for_app(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    text = page.get_by_test_id("stApp").inner_text()
    assert "Sign in with your department account" in text
    for shown_only_after_login in ("Patients in cohort", "4,299", "Kaplan-Meier", "Dataset",
                                   "Filters", "Cox model", "Toxicity", "synthetic"):
        assert shown_only_after_login not in text
    assert page.locator(".js-plotly-plot").count() == 0
    assert page.get_by_test_id("stSidebar").count() == 0
    assert page.get_by_role("dialog").count() == 0  # no "page not found" over the sign-in
    assert urlsplit(page.url).path == "/survival"  # the link as opened


def test_a_colleagues_link_opens_after_sign_in(signed_app: str, page: Page):
    page.goto(f"{signed_app}/survival?survival.by=study")
    wait_for_app(page)
    sign_in(page, ALICE["sub"])
    # literal text: a word joiner before '@' keeps the address from turning into a mail link
    expect(page.get_by_text(re.compile(r"Signed in as alice\W?@hospital\.org"))).to_have_count(1)
    expect(page).to_have_url(f"{signed_app}/survival?survival.by=study", timeout=30_000)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Survival")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the provider's own sign-out
    wait_for_app(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert "Patients in cohort" not in page.get_by_test_id("stApp").inner_text()
