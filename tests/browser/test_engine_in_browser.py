"""A registry kept in its engine (``engine = true``: Parquet patients and toxicities queried in
DuckDB by the running server), opened from links in Chromium: the Survival and Toxicity screens
draw their figures, with the numbers of the same registry read into memory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from cohort.datasets import load_dataset
from tests.browser.conftest import ROOT, running_server, wait_for_app
from tests.test_engine_screens import COLUMNS, STUDY, _dataset


@pytest.fixture(scope="module")
def engine_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app serving the demonstration registry twice: in memory ('mem') and kept in the
    engine ('eng')."""
    folder = tmp_path_factory.mktemp("engine-registry")
    demo = load_dataset("oligomet-demo")
    demo.patients.select(COLUMNS).write_parquet(folder / "registry.parquet")
    demo.toxicities.write_parquet(folder / "toxicities.parquet")
    config = folder / "oligomet.toml"
    config.write_text(_dataset("mem", False) + _dataset("eng", True))
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
               "--global.developmentMode", "false", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    with running_server(command, env={**os.environ, "OLIGOMET_CONFIG": str(config)}) as url:
        yield url


def _open(page: Page, url: str, screen: str, **params: str) -> str:
    """The screen opened from a link; the main area's text once drawn (figures included)."""
    page.goto(f"{url}/{screen}?{urlencode(params)}")
    wait_for_app(page)
    expect(page.locator("[data-testid=stMain] .js-plotly-plot").first).to_be_visible()
    wait_for_app(page)
    return page.get_by_test_id("stMain").inner_text()


def _numbers(text: str, name: str) -> str:
    """The page's text with the dataset's name taken out (the two registries' only difference)."""
    return text.replace(f"Registry {name}", "Registry")


@pytest.mark.parametrize(("screen", "params"), [
    ("toxicity", {"toxicity.by": "dose_level", "f.study": STUDY}),
    ("survival", {"survival.by": "histology"}),
])
def test_an_engine_registry_shows_in_the_browser_what_memory_shows(page: Page, engine_url: str,
                                                                    screen: str, params: dict):
    engine = _open(page, engine_url, screen, ds="eng", **params)
    memory = _open(page, engine_url, screen, ds="mem", **params)
    assert _numbers(engine, "eng") == _numbers(memory, "mem")
    figures = page.locator("[data-testid=stMain] .js-plotly-plot")
    assert figures.count() >= (2 if screen == "toxicity" else 1)
