"""A clinic's raw registry export (dates as dd.mm.yyyy text, vital status dead/alive, "unknown"
in a number column) from opening the app to a Kaplan-Meier of OS by arm with its number-at-risk
table, taking the Data page's suggestions as they are; the user's actions are counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import choose, wait_for_app
from tests.registry_exports import clinic_export

#: The most actions (clicks, uploads, choices) from the open app to the stratified KM.
MAX_ACTIONS = 6


class Actions:
    """The user's actions on a page, counted: a click, a file chosen, a choice in a list."""

    def __init__(self, page: Page):
        self.page = page
        self.count = 0

    def click_link(self, name: str) -> None:
        self.count += 1
        self.page.get_by_role("link", name=name).click()
        wait_for_app(self.page)

    def click_button(self, name: str) -> None:
        self.count += 1
        self.page.get_by_role("button", name=name).click()
        wait_for_app(self.page)

    def upload(self, path: Path) -> None:
        self.count += 1
        self.page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(path))
        wait_for_app(self.page)

    def choose(self, label: str, option: str) -> None:
        self.count += 1
        choose(self.page, label, option)


@pytest.fixture()
def registry_csv(tmp_path: Path) -> Path:
    path = tmp_path / "clinic_registry.csv"
    path.write_bytes(clinic_export().write_csv(separator=";").encode())
    return path


def test_raw_registry_export_to_km_by_arm_in_at_most_six_actions(page: Page, app_url: str,
                                                                 registry_csv: Path):
    page.goto(app_url)
    wait_for_app(page)
    user = Actions(page)
    user.click_link("Data")
    user.upload(registry_csv)
    expect(page.get_by_text("Date columns found")).to_be_visible()
    user.click_button("Validate and load")
    expect(page.get_by_text("Loaded in this session: clinic_registry.csv")).to_be_visible()
    user.click_link("Survival")
    user.choose("Stratify by", "Systemic regimen")
    figure = page.get_by_test_id("stPlotlyChart").first
    expect(figure).to_contain_text("Number at risk")
    expect(figure).to_contain_text("SBRT + systemic")
    expect(figure).to_contain_text("systemic alone")
    assert user.count <= MAX_ACTIONS, user.count
    print(f"\nactions from the open app to the KM of OS by arm: {user.count}")
