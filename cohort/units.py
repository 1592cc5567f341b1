"""Time units of survival times: days, weeks, months, years, and one place for converting them.

Canonical endpoint times are in months (``K_months``, 1 month = 365.25 / 12 = 30.4375 days).
A cohort derived from registry dates also carries the exact whole days, ``K_days`` (Int64), and
an upload stated in days may carry them too (Float64). :func:`time_in_unit` takes a time in days,
weeks or years from those exact days when the frame has them, so that 365 days stays 365.0 and
not 364.99999999999994 from months and back.

A column's unit is read from its name: ``x_days``, ``x_weeks``, ``x_months``, ``x_years``. Any
other time column (a custom one, e.g. ``time``) has a unit the app does not know: it is analysed
as it is, never converted, and labelled "time units".
"""

from __future__ import annotations

import math

import polars as pl

TIME_UNITS = ("days", "weeks", "months", "years")
DEFAULT_UNIT = "months"
#: Days in one unit of time; a month is a twelfth of a Julian year.
DAYS_PER_UNIT: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
DAYS_PER_MONTH = DAYS_PER_UNIT["months"]
#: Landmark times offered in each unit (any other positive time may be typed).
LANDMARK_CHOICES: dict[str, tuple[float, ...]] = {
    "days": (90.0, 180.0, 365.0, 730.0, 1095.0, 1825.0),
    "weeks": (13.0, 26.0, 52.0, 104.0, 156.0, 260.0),
    "months": (3.0, 6.0, 12.0, 18.0, 24.0, 36.0, 48.0, 60.0),
    "years": (0.5, 1.0, 2.0, 3.0, 4.0, 5.0),
}
#: Landmarks shown before the user chooses: one and two years in each unit.
DEFAULT_LANDMARKS: dict[str, tuple[float, ...]] = {
    "days": (365.0, 730.0), "weeks": (52.0, 104.0), "months": (12.0, 24.0), "years": (1.0, 2.0),
}
#: Step of a number input of a time in each unit (RMST horizon, axis limit).
INPUT_STEPS: dict[str, float] = {"days": 30.0, "weeks": 4.0, "months": 6.0, "years": 0.5}
#: Decimals of a median or follow-up time written out in each unit.
DIGITS: dict[str, int] = {"days": 0, "weeks": 1, "months": 1, "years": 2}
UNKNOWN_UNIT_LABEL = "time units"


def check_unit(unit: str) -> str:
    """``unit`` itself; ValueError if it is not one of :data:`TIME_UNITS`."""
    if unit not in TIME_UNITS:
        raise ValueError(f"unknown time unit {unit!r}: expected one of {', '.join(TIME_UNITS)}")
    return unit


def column_unit(time_column: str) -> str | None:
    """The unit a time column's name states (``os_months`` -> "months", ``dfs_days`` ->
    "days"), or None: a name without a unit suffix (its unit is unknown here)."""
    return next((u for u in TIME_UNITS if time_column.endswith(f"_{u}")), None)


def days_column(time_column: str) -> str | None:
    """The column holding the exact days of an endpoint's time: ``os_months`` -> ``os_days``;
    a ``_days`` column is its own. None for any other column: only the ``K_months`` / ``K_days``
    pair of an endpoint is defined, a column of unknown unit has no days sibling."""
    if time_column.endswith("_days"):
        return time_column
    if time_column.endswith("_months"):
        return time_column.removesuffix("_months") + "_days"
    return None


def analysed_unit(time_column: str, unit: str) -> str | None:
    """The unit an analysis of ``time_column`` in ``unit`` reports: ``unit`` when the column's
    unit is known (so it can be converted), else None (times as they are in the column)."""
    check_unit(unit)
    return unit if column_unit(time_column) is not None else None


def unit_factor(source_unit: str, unit: str) -> float:
    """What a time in ``source_unit`` is multiplied by to be in ``unit`` (one multiplication,
    the same in polars and in SQL: polars divides by a literal through its reciprocal, SQL
    engines exactly, so a division would differ in the last bit)."""
    return DAYS_PER_UNIT[source_unit] / DAYS_PER_UNIT[unit]


def time_in_unit(patients: pl.DataFrame, time_column: str, unit: str) -> pl.Expr:
    """The time of ``time_column`` in ``unit``, as Float64 (unit "months": a ``K_months``
    column unchanged).

    Days, weeks and years come from the exact ``K_days`` column when ``patients`` has it (days
    x :func:`unit_factor`; for "days" the days themselves as Float64: 365 stays 365.0);
    otherwise from the column's own unit. ``K_months`` is ``K_days / 30.4375``
    by construction, so "months" reads it as it is. A column whose name states no unit
    (:func:`column_unit` is None) is returned as it is: its unit is unknown, nothing is converted.
    """
    source = time_source(patients, time_column, unit)
    source_unit = column_unit(source)
    if source_unit is None:
        return pl.col(time_column)
    time = pl.col(source).cast(pl.Float64)
    if source_unit != unit:
        time = time * unit_factor(source_unit, unit)
    return time.alias(time_column)


def time_source(patients: pl.DataFrame, time_column: str, unit: str) -> str:
    """The column :func:`time_in_unit` reads: the endpoint's exact ``K_days`` for days, weeks
    or years when ``patients`` has it, else ``time_column`` itself."""
    check_unit(unit)
    days = days_column(time_column)
    if unit != "months" and days is not None and days in patients.columns:
        return days
    return time_column


def unit_label(unit: str | None) -> str:
    """The unit as table headers and labels write it ("days", ...; "time units" if unknown)."""
    return UNKNOWN_UNIT_LABEL if unit is None else check_unit(unit)


def axis_title(unit: str | None) -> str:
    """The time axis title of a figure: "Days", "Weeks", "Months", "Years", or "Time"."""
    return "Time" if unit is None else check_unit(unit).capitalize()


def time_text(value: float, unit: str | None) -> str:
    """A time written with the unit's decimals and the unit ("365 days", "1.50 years")."""
    digits = 1 if unit is None else DIGITS[unit]
    return f"{value:.{digits}f} {unit_label(unit)}"


def conversion_words(source: str, unit: str) -> str:
    """How ``source`` converts to ``unit``, in days: "1 month = 30.4375 days, 1 week = 7 days"."""
    return ", ".join(f"1 {u.removesuffix('s')} = {DAYS_PER_UNIT[u]:g} days"
                     for u in dict.fromkeys((source, unit)) if u != "days")


def positive_time(text: str) -> float | None:
    """The positive finite number ``text`` writes (a landmark or horizon), or None."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None
