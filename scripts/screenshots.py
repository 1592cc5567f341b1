"""Screenshots of app pages in headless Chromium, for looking at what we build.

Usage: python scripts/screenshots.py URL_PATH[?query] ... (the app must be running on
$APP_URL, default http://localhost:8501). PNGs go to screenshots/.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def wait_idle(page) -> None:
    """Wait until the script has run and nothing is loading, then let charts draw."""
    page.wait_for_selector("[data-testid=stMain] h1", timeout=60_000)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]",
                           timeout=60_000)
    page.wait_for_function("!document.querySelector('[data-testid=stSkeleton]')",
                           timeout=60_000)
    page.wait_for_timeout(1500)


def main(paths: list[str]) -> None:
    base = os.environ.get("APP_URL", "http://localhost:8501")
    out = Path("screenshots")
    out.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        height = int(os.environ.get("SHOT_HEIGHT", "2400"))
        page = browser.new_page(viewport={"width": 1440, "height": height})
        for path in paths:
            page.goto(f"{base}/{path}")
            wait_idle(page)
            name = path.replace("/", "_").replace("?", "_").replace("&", "_") or "home"
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            print(out / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:] or [""])
