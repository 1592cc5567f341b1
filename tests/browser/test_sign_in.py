"""Sign-in with st.login against a real OpenID Connect provider (oidc-provider-mock), in Chromium:
nothing but the sign-in shows before login; a colleague's link opens after it; a configured
dataset is offered only to the users its access lists, and two users signed in at once see
neither the other's datasets nor uploads."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from cohort.datasets import load_dataset
from tests.browser.conftest import ROOT, running_server, upload_on_data_page, wait_for_app
from tests.browser.oidc import oidc_provider, write_auth_secrets
from tests.ports import free_port

ALICE = {"sub": "alice@hospital.org", "email": "alice@hospital.org", "groups": ["radonc"]}
BOB = {"sub": "bob@clinic.example.org", "email": "bob@clinic.example.org", "groups": ["icu"]}
CAROL = {"sub": "carol@hospital.org", "email": "carol@hospital.org", "groups": ["radonc"]}
REGISTRY_TITLE = "SBRT registry (radiation oncology)"
READ = ["patient_id", "study", "age_years", "histology", "os_months", "os_event"]


def registry_config(folder) -> str:
    """A server configuration offering a 40-patient registry to the group 'radonc' only."""
    load_dataset("oligomet-demo").patients.head(40).select(READ).write_parquet(
        folder / "registry.parquet")
    mapping = ", ".join(f'{c} = "{c}"' for c in READ)
    path = folder / "oligomet.toml"
    path.write_text(
        f'[datasets.sbrt]\ntitle = "{REGISTRY_TITLE}"\nprovenance = "Registry export."\n'
        'patients = "registry.parquet"\naccess = { groups = ["radonc"] }\n'
        f'reading = {{ mapping = {{ {mapping} }}, time_unit = "months", '
        'event_codings = { os_event = "0/1" } }\n')
    return str(path)


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory) -> Iterator[str]:
    """The app with sign-in on, against a provider of its own, with a registry for 'radonc'."""
    with oidc_provider([ALICE, BOB, CAROL]) as issuer:
        port = free_port()
        folder = tmp_path_factory.mktemp("auth")
        secrets = write_auth_secrets(folder, issuer, port)
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                   "--global.developmentMode", "false", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none", "--secrets.files", str(secrets)]
        env = {**os.environ, "OLIGOMET_CONFIG": registry_config(folder)}
        with running_server(command, env=env, port=port) as url:
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


def dataset_choices(page: Page) -> list[str]:
    """The titles the sidebar's Dataset box offers (the list opened, read and closed)."""
    box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(
        has_text="Dataset")
    box.locator("input").click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    titles = [t.strip() for t in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return titles


def signed_in_page(browser: Browser, app: str, user: dict) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(60_000)
    page.goto(app)
    wait_for_app(page)
    sign_in(page, user["sub"])
    return page


def view_text(page: Page, link: str) -> tuple[str, str]:
    """(the sidebar's patient count, the figure's title) of ``link`` opened in ``page``."""
    page.goto(link)
    wait_for_app(page)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    count = page.get_by_test_id("stSidebar").get_by_test_id("stMetric").first.inner_text()
    title = page.locator(".js-plotly-plot .gtitle").first.text_content()
    return count, title


def test_a_colleague_in_the_datasets_group_opens_the_same_view_from_a_link(
        signed_app: str, browser: Browser):
    link = f"{signed_app}/survival?ds=sbrt&survival.by=histology"
    alice, carol = (signed_in_page(browser, signed_app, user) for user in (ALICE, CAROL))
    seen_by_alice = view_text(alice, link)
    assert "40" in seen_by_alice[0] and "by Histology" in seen_by_alice[1]
    assert view_text(carol, link) == seen_by_alice
    for page in (alice, carol):
        page.context.close()


def test_two_users_at_once_see_only_the_datasets_and_uploads_they_may(
        signed_app: str, browser: Browser, tmp_path):
    alice, bob = (signed_in_page(browser, signed_app, user) for user in (ALICE, BOB))
    assert REGISTRY_TITLE in dataset_choices(alice)
    assert REGISTRY_TITLE not in dataset_choices(bob)

    alice.goto(f"{signed_app}/survival?ds=sbrt")
    wait_for_app(alice)
    expect(alice.get_by_role("heading", name="Survival")).to_be_visible()
    expect(alice.get_by_test_id("stSidebar").get_by_test_id("stMetric")).to_contain_text("40")
    bob.goto(f"{signed_app}/survival?ds=sbrt")  # Alice's link, sent to Bob
    wait_for_app(bob)
    expect(bob.get_by_text("You do not have access to the dataset 'sbrt'")).to_be_visible()
    assert "SBRT registry" not in bob.get_by_test_id("stApp").inner_text()

    csv = tmp_path / "alice-upload.csv"
    load_dataset("oligomet-demo").patients.head(25).select(READ).write_csv(csv)
    upload_on_data_page(alice, signed_app, csv)
    assert any("alice-upload.csv" in t for t in dataset_choices(alice))
    bob.goto(signed_app)
    wait_for_app(bob)
    assert not any("alice-upload" in t for t in dataset_choices(bob))
    assert "alice-upload" not in bob.get_by_test_id("stApp").inner_text()
    for page in (alice, bob):
        page.context.close()
