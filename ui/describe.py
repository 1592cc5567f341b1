"""The cohort in words, for captions and titles, so a screenshot cannot be misread."""

from __future__ import annotations

from cohort.suppression import patient_count
from ui.session import View


def cohort_label(view: View) -> str:
    """E.g. 'Oligomet demonstration cohort (synthetic), Histology: melanoma' (no count)."""
    filters = "" if not view.filter.conditions else f", {view.filter.describe()}"
    return f"{view.label}{filters}"


def cohort_words(view: View, n: int | str | None = None, dataset: bool = True) -> str:
    """E.g. 'Oligomet demonstration cohort (synthetic), Histology: melanoma, n = 42'; without
    ``dataset``: 'Histology: melanoma, n = 42' ('All patients, n = 4,299' when unfiltered);
    ``n`` as text is a count already suppressed ('<11', 'withheld'), written as it is."""
    count = n if isinstance(n, str) else patient_count(
        view.patients.height if n is None else n, view.min_cell)
    if not dataset:
        filters = view.filter.describe() if view.filter.conditions else "All patients"
        return f"{filters}, n = {count}"
    return f"{cohort_label(view)}, n = {count}"


def figure_caption(view: View, endpoint: str, method: str, n: int | str) -> str:
    """Which cohort, which filters, which endpoint and which method, in one caption."""
    return f"{cohort_words(view, n)}. Endpoint: {endpoint}. {method}."
