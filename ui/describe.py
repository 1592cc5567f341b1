"""The cohort in words, for captions and titles, so a screenshot cannot be misread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import streamlit as st

from cohort.engine_source import RowLimitError
from cohort.suppression import patient_count
from ui.session import View
from ui.text import literal_markdown


@contextmanager
def within_engine_limits() -> Iterator[None]:
    """Around a part of a screen an engine dataset answers: past its row limit (a part that
    needs the patients' rows) or its memory (``engine_memory_mb``), the reason and what to do
    are shown instead (the screen's other parts stay)."""
    try:
        yield
    except RowLimitError as refused:
        st.info(literal_markdown(f"{refused} (this part of the screen needs the patients' "
                                 "rows; counts and survival statistics run in the database)."),
                icon=":material/filter_alt:")
    except duckdb.OutOfMemoryException:
        st.warning("The database needed more memory than this dataset may use "
                   "(engine_memory_mb in the server's configuration) for this part of the "
                   "screen: narrow the filter, or ask the server's administrators to raise it.",
                   icon=":material/memory:")


def cohort_label(view: View) -> str:
    """E.g. 'Oligomet demonstration cohort (synthetic), Histology: melanoma' (no count)."""
    filters = "" if not view.filter.conditions else f", {view.filter.describe()}"
    return f"{view.label}{filters}"


def cohort_words(view: View, n: int | str | None = None, dataset: bool = True) -> str:
    """E.g. 'Oligomet demonstration cohort (synthetic), Histology: melanoma, n = 42'; without
    ``dataset``: 'Histology: melanoma, n = 42' ('All patients, n = 4,299' when unfiltered);
    ``n`` as text is a count already suppressed ('<11', 'withheld'), written as it is."""
    count = n if isinstance(n, str) else patient_count(
        view.n_patients if n is None else n, view.min_cell)
    if not dataset:
        filters = view.filter.describe() if view.filter.conditions else "All patients"
        return f"{filters}, n = {count}"
    return f"{cohort_label(view)}, n = {count}"


def figure_caption(view: View, endpoint: str, method: str, n: int | str) -> str:
    """Which cohort, which filters, which endpoint and which method, in one caption."""
    return f"{cohort_words(view, n)}. Endpoint: {endpoint}. {method}."
