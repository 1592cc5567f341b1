"""Opening the app in Streamlit's AppTest, as a link would: shared by the screen tests."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def open_app(screen: str | None = None, /, **params: str | list[str]) -> AppTest:
    """The app opened from a link with ``params`` (then switched to ``screen``, a path such as
    'screens/cox.py'), checked to show no exception and no error."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if screen is not None:
        at.switch_page(screen).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def param(at: AppTest, key: str) -> list[str]:
    """The link's values for ``key`` after the run (always a list)."""
    value = at.query_params[key]
    return [value] if isinstance(value, str) else list(value)


def metric(at: AppTest, label: str) -> str:
    """The value of the metric labelled ``label`` (e.g. the sidebar's patient count)."""
    return next(m.value for m in at.metric if m.label == label)
