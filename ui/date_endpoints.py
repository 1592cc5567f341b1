"""The Data page's form for endpoints from dates: time zero, death, last contact, the event
dates of PFS, LC and TTNT, a custom endpoint, the day/month order where the values leave it
open, and the Excel date system. Preset from ``cohort.io.suggest_reading``."""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl
import streamlit as st

from cohort.dates import date_orders
from cohort.endpoints import DEATH, DateEndpoints, EndpointRule, standard_rules
from cohort.io import event_values, suggest_coding, without_missing_codes
from ui.text import literal_markdown

NONE = "(none)"
ORDER_LABELS = {"dmy": "day/month/year", "mdy": "month/day/year"}
#: Keys of the canonical endpoints; a custom endpoint needs another.
RESERVED_KEYS = ("os", "pfs", "lc", "ttnt")


def _preset(options: list[str], value: str | None) -> int:
    return options.index(value) if value in options else 0


def _column_choice(label: str, columns: list[str], value: str | None, key: str,
                   optional: bool = True, help: str | None = None) -> str | None:
    options = ([NONE] if optional else []) + columns
    chosen = st.selectbox(label, options, index=_preset(options, value), key=key, help=help)
    return None if chosen == NONE else chosen


def _rule_date(rules: tuple[EndpointRule, ...], key: str) -> str | None:
    rule = next((r for r in rules if r.key == key), None)
    return next((s for s in rule.events if s != DEATH), None) if rule else None


def _custom_rule(date_columns: list[str], key: str) -> EndpointRule | None:
    """A custom endpoint the user names (event date; death competing or censoring)."""
    with st.expander("Custom endpoint (optional)"):
        left, middle, right = st.columns(3)
        name = left.text_input("Name (letters, digits, _)", key=f"{key}.custom.name")
        with middle:
            event = _column_choice("Event date", date_columns, None, f"{key}.custom.event")
        competing = right.toggle("Death first is a competing event", value=True,
                                 key=f"{key}.custom.competing")
    slug = re.sub(r"[^a-z0-9_]", "_", name.strip().lower()).strip("_")
    if not slug or event is None:
        return None
    if slug in RESERVED_KEYS:
        st.warning(f"'{slug}' is the key of a standard endpoint: choose another name.")
        return None
    return EndpointRule(slug, (event,), (DEATH,) if competing else ())


def _orders(table: pl.DataFrame, columns: list[str], suggested: DateEndpoints | None,
            missing: frozenset[str], key: str) -> tuple[dict[str, str], list[str]]:
    """The day/month order of each used date column, asked where the values leave it open;
    and the columns whose order is still to be stated."""
    orders = dict(suggested.orders) if suggested else {}
    unstated = []
    for column in columns:
        possible = date_orders(without_missing_codes(table[column], missing))
        if len(possible) == 1:
            orders[column] = possible[0]
        elif len(possible) > 1:
            chosen = st.radio(literal_markdown(f"Dates in '{column}' are written as (no day "
                                               "above 12 settles it)"),
                              list(ORDER_LABELS), format_func=ORDER_LABELS.get, index=None,
                              horizontal=True, key=f"{key}.order.{column}")
            if chosen:
                orders[column] = chosen
            else:
                orders.pop(column, None)
                unstated.append(column)
    return orders, unstated


def date_endpoints_form(table: pl.DataFrame, date_columns: list[str],
                        suggested: DateEndpoints | None, missing: frozenset[str],
                        date_system: int, key: str,
                        coding_widget: Callable[..., str | None]
                        ) -> tuple[DateEndpoints | None, dict[str, str | None], list[str]]:
    """The endpoints from dates the user confirms (None: none), the coding of the vital status
    column, and what is still to be stated before loading."""
    st.caption(literal_markdown(
        f"Date columns found: {', '.join(date_columns)}. Times are counted in whole days from "
        "the time zero; deaths end follow-up; the dates themselves are not kept."))
    derive = st.toggle("Derive endpoints from these dates", value=suggested is not None,
                       key=f"{key}.dates.on")
    if not derive:
        return None, {}, []
    others = [c for c in table.columns if c not in date_columns]
    rules = suggested.rules if suggested else ()
    row = st.columns(4)
    with row[0]:
        zero = _column_choice("Time zero", date_columns, suggested and suggested.time_zero,
                              f"{key}.dates.zero", optional=False,
                              help="RT start by default; RT end, diagnosis or registration")
    with row[1]:
        death = _column_choice("Date of death (or of death or last contact)", date_columns,
                               suggested and suggested.death, f"{key}.dates.death")
    with row[2]:
        vital = _column_choice("Vital status (dead/alive)", others,
                               suggested and suggested.vital_status, f"{key}.dates.vital")
    with row[3]:
        last = _column_choice("Date of last contact", date_columns,
                              suggested and suggested.last_contact, f"{key}.dates.last")
    row = st.columns(3)
    with row[0]:
        progression = _column_choice("Progression or recurrence (PFS)", date_columns,
                                     _rule_date(rules, "pfs"), f"{key}.dates.pfs")
    with row[1]:
        local = _column_choice("Local failure (LC)", date_columns, _rule_date(rules, "lc"),
                               f"{key}.dates.lc")
    with row[2]:
        next_line = _column_choice("Next-line therapy (TTNT)", date_columns,
                                   _rule_date(rules, "ttnt"), f"{key}.dates.ttnt")
    chosen_rules = standard_rules(death=death is not None, progression=progression,
                                  local_failure=local, next_treatment=next_line)
    custom = _custom_rule(date_columns, key)
    chosen_rules += (custom,) if custom else ()
    codings: dict[str, str | None] = {}
    if vital:
        suggested_coding = suggest_coding(event_values(table, vital), missing)
        codings[vital] = coding_widget(table, vital, "vital status: the event is death",
                                       f"{key}.dates.vital.coding", suggested_coding)
    used = [c for c in dict.fromkeys([zero, death, last, progression, local, next_line,
                                      *(custom.events if custom else ())]) if c and c != DEATH]
    orders, unstated = _orders(table, used, suggested, missing, key)
    if date_system == 1904:
        st.caption("Excel serial numbers are read in the workbook's 1904 date system.")
    todo = [f"the coding of '{vital}'" for c, v in codings.items() if v is None]
    todo += [f"the day/month order of '{c}'" for c in unstated]
    if death is None and last is None:
        todo.append("a date of death or of last contact")
    spec = DateEndpoints(time_zero=zero, rules=chosen_rules, death=death, vital_status=vital,
                         last_contact=last or (death if vital else None), orders=orders,
                         date_system=date_system)
    return spec, codings, todo
