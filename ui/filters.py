"""Sidebar filter widgets -> ``CohortFilter``.

A categorical column gets a multiselect (nothing chosen: no filter), a numeric column a range
slider (full range: no filter). Once a filter narrows a column with missing values, an
"include missing" box decides whether those rows stay. Widget keys carry the dataset key, so
every dataset keeps its own filters.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import polars as pl
import streamlit as st

from cohort.filters import MAIN_FILTERS, CohortFilter, Condition, InRange, ValuesIn
from cohort.schema import PATIENT_ID, column_label, identifying_columns, is_numeric, is_outcome_column
from ui.urlstate import pending, suggest, url_multiselect, url_range_slider, url_toggle

MAX_CATEGORIES = 60
EXTRA_PARAM = "more"


def widget_key(dataset: str, column: str, part: str = "") -> str:
    """The session-state key of a filter widget."""
    return f"flt.{dataset}.{column}{'.' + part if part else ''}"


def filter_param(column: str) -> str:
    """The URL parameter of a column's filter."""
    return f"f.{column}"


def filterable_columns(patients: pl.DataFrame, identifying: Collection[str] | None = None
                       ) -> list[str]:
    """Columns a user can filter on: main ones first, then the rest; never the id, outcomes or
    ``identifying`` columns (default: as detected in ``patients``)."""
    if identifying is None:
        identifying = identifying_columns(patients)
    hidden = {PATIENT_ID, *identifying}
    others = [
        c for c, dtype in patients.schema.items()
        if c not in MAIN_FILTERS and not is_outcome_column(c, patients.columns)
        and not (isinstance(dtype, pl.List) and dtype.inner != pl.String)
    ]
    return [c for c in (*MAIN_FILTERS, *others) if c in patients.columns and c not in hidden]



def categories(column: pl.Series) -> list[str]:
    """Distinct values of a text, boolean or list column, as sorted text."""
    values = column.explode() if isinstance(column.dtype, pl.List) else column
    return sorted(values.drop_nulls().cast(pl.String).unique().to_list())


def has_missing(column: pl.Series) -> bool:
    if isinstance(column.dtype, pl.List):
        return bool(column.is_null().any() or (column.list.len() == 0).any())
    nan = column.dtype.is_float() and bool(column.is_nan().any())
    return bool(column.is_null().any()) or nan


def _slider_step(low: float, high: float, integer: bool) -> float:
    if integer:
        return 1
    return 10 ** math.floor(math.log10((high - low) / 100)) if high > low else 1.0


def _range_condition(dataset: str, column: str, values: pl.Series) -> Condition | None:
    finite = values.drop_nulls()
    if values.dtype.is_float():
        finite = finite.filter(finite.is_finite())
    if finite.len() == 0 or finite.min() == finite.max():
        return None
    integer = values.dtype.is_integer()
    step = _slider_step(float(finite.min()), float(finite.max()), integer)
    cast = int if integer else float
    low_bound = cast(math.floor(finite.min() / step) * step)
    high_bound = cast(math.ceil(finite.max() / step) * step)
    low, high = url_range_slider(
        column_label(column), low_bound, high_bound, step=cast(step), integer=integer,
        key=widget_key(dataset, column), param=filter_param(column),
    )
    if (low, high) == (low_bound, high_bound):
        return None
    return InRange(column, float(low), float(high), _include_missing(dataset, column, values))


def _values_condition(dataset: str, column: str, values: pl.Series) -> Condition | None:
    options = categories(values)
    if not options or len(options) > MAX_CATEGORIES:
        return None
    chosen = url_multiselect(column_label(column), options, placeholder="All",
                             key=widget_key(dataset, column), param=filter_param(column))
    if not chosen:
        return None
    return ValuesIn(column, tuple(chosen), _include_missing(dataset, column, values))


def _include_missing(dataset: str, column: str, values: pl.Series) -> bool:
    if not has_missing(values):
        return False
    return url_toggle("include missing", widget=st.checkbox, param=f"m.{column}",
                      key=widget_key(dataset, column, "missing"))


def column_condition(dataset: str, column: str, values: pl.Series) -> Condition | None:
    """Draw the widget for one column; its condition, or None when it does not narrow."""
    if is_numeric(values.dtype):
        return _range_condition(dataset, column, values)
    return _values_condition(dataset, column, values)


def filter_widgets(dataset: str, patients: pl.DataFrame, identifying: Collection[str]
                   ) -> CohortFilter:
    """Draw the filter widgets for ``patients`` (unfiltered; ``identifying`` columns get none);
    the filter they describe."""
    columns = filterable_columns(patients, identifying)
    main = [c for c in columns if c in MAIN_FILTERS]
    extra_options = [c for c in columns if c not in MAIN_FILTERS]
    cohort_filter = CohortFilter()
    for column in main:
        condition = column_condition(dataset, column, patients[column])
        if condition is not None:
            cohort_filter = cohort_filter.with_condition(condition)
    linked = [c for c in extra_options if pending(filter_param(c)) is not None]
    if linked:
        suggest(EXTRA_PARAM, linked)
    if extra_options:
        extra = url_multiselect("More filters", extra_options, format_func=column_label,
                                key=widget_key(dataset, "_extra"), param=EXTRA_PARAM,
                                placeholder="Any other column")
        for column in extra:
            condition = column_condition(dataset, column, patients[column])
            if condition is not None:
                cohort_filter = cohort_filter.with_condition(condition)
    return cohort_filter
