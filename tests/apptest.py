"""Opening the app in Streamlit's AppTest, as a link would: shared by the screen tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
from streamlit import dataframe_util
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def run_pages_through_the_entry_script() -> None:
    """Make AppTest treat the app as the real server does: ``st.navigation`` in app.py lists
    the pages, and the ``pages/`` folder is not legacy page discovery. (AppTest resets
    ``PagesManager.uses_pages_directory`` on every run, and a ``pages/`` folder would then make
    ``switch_page`` run the page alone, skipping app.py; see STREAMLIT_NOTES.md.) Idempotent."""
    original = PagesManager.__init__
    if getattr(original, "navigation_only", False):
        return

    def init(self, *args, **kwargs) -> None:
        PagesManager.uses_pages_directory = False
        original(self, *args, **kwargs)

    init.navigation_only = True
    PagesManager.__init__ = init


run_pages_through_the_entry_script()


def open_app(screen: str | None = None, /, **params: str | list[str]) -> AppTest:
    """The app opened from a link with ``params`` (then switched to ``screen``, a path such as
    'pages/cox.py'), checked to show no exception and no error."""
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


def load_on_data_page(at: AppTest, name: str, data: bytes, mime: str = "text/csv",
                      unit: str = "months") -> AppTest:
    """Upload ``data`` as the patients file on the Data page, keep the suggested mapping, state
    ``unit`` and 0/1 event coding for every event column, and press "Validate and load"."""
    from cohort.io import EVENT_CODINGS

    at.switch_page("pages/data.py").run()
    at.file_uploader(key="upload.patients").set_value((name, data, mime)).run()
    next(s for s in at.selectbox if s.label.startswith("Unit of the time")).set_value(unit).run()
    zero_one = next(k for k in EVENT_CODINGS if k.startswith("0/1"))
    for coding in [s for s in at.selectbox if s.label.startswith("How is")]:
        coding.set_value(zero_one).run()
    return at.button[0].click().run()


def as_read(text: object) -> str:
    """Markdown source as the user reads it: backslash escapes removed (values from files and
    links are escaped so that they show as typed, ui.text.literal_markdown)."""
    return re.sub(r"\\(.)", r"\1", str(text)).replace("\u2060", "")


def shown_table(at: AppTest, prefix: str) -> pl.DataFrame:
    """The table titled ``prefix...`` as the screen showed it this run, as the report takes it
    (headers as on screen, numbers formatted as on screen)."""
    shown = at.session_state["_shown_this_run"]
    return next(frame for title, frame in shown.tables if title.startswith(prefix))


def drawn_table(at: AppTest, header: str) -> pl.DataFrame:
    """The first ``st.dataframe`` with a column headed ``header`` (its label, or its name
    where it has none), as text under its on-screen headers: the display values the app sent
    with it where it sent any, else the values as sent (the browser then applies the column's
    own format: Streamlit's "%g" writes every digit of a float)."""
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        labels = {c: cfg["label"] for c, cfg in config.items() if cfg.get("label")}
        if header not in [labels.get(c, c) for c in frame.value.columns]:
            continue
        display = frame.proto.arrow_data.styler.display_values
        cells = (dataframe_util.convert_arrow_bytes_to_pandas_df(display) if display
                 else frame.value)
        text = pl.from_pandas(cells.astype(str))
        return text.rename({c: labels[c] for c in text.columns if c in labels})
    raise LookupError(f"no table on screen has a column headed {header!r}")
