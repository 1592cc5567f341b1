"""Showing tables: the table, its CSV and .xlsx downloads, and a place in the HTML report."""

from __future__ import annotations

import re

import polars as pl
import streamlit as st

from cohort.elementwise import each_value
from cohort.export import safe_csv, safe_xlsx
from cohort.report import FLOAT_FORMAT
from ui import collect
from ui.cache import session_cache

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@session_cache(max_entries=64)
def download_files(frame: pl.DataFrame, sheet: str) -> tuple[bytes, bytes]:
    """CSV and .xlsx bytes of ``frame``, written once per table per session (an .xlsx takes
    15-40 ms; this session's cache only: tables hold patient data)."""
    return safe_csv(frame), safe_xlsx(frame, sheet)


def cell_formats(frame: pl.DataFrame, column_config: dict) -> dict[str, str]:
    """The number formats of ``frame``'s number columns, by column: "percent" or a printf
    format such as "%.2f" or "%g" from ``column_config``, else FLOAT_FORMAT for a float column
    (a column suppression turned into text, e.g. '<11', keeps its text)."""
    configured = {c: (cfg.get("type_config") or {}).get("format")
                  for c, cfg in column_config.items()
                  if c in frame.columns and isinstance(cfg, dict)
                  and frame.schema[c].is_numeric()}
    floats = {c: FLOAT_FORMAT for c, dtype in frame.schema.items() if dtype.is_float()}
    return floats | {c: f for c, f in configured.items()
                     if f == "percent" or (isinstance(f, str) and f.startswith("%"))}


def cell_text(value: float, number_format: str) -> str:
    """``value`` written in ``number_format``: "percent" (0.123 -> "12.3%", two decimals at
    most) or a printf format, as Python writes it (the one formatter of screen and report)."""
    if number_format == "percent":
        return f"{round(value * 100, 2)}%"
    return number_format % value


def formatted(frame: pl.DataFrame, formats: dict[str, str]) -> pl.DataFrame:
    """``frame`` with the ``formats`` columns as text (nulls stay null)."""
    return frame.with_columns(
        each_value(frame, c, lambda v, f=f: cell_text(v, f)) for c, f in formats.items())


def as_read(frame: pl.DataFrame, column_config: dict) -> pl.DataFrame:
    """``frame`` as the screen shows it, for the report: columns under their on-screen labels
    and numbers written as the screen writes them (:func:`cell_text`)."""
    shown = formatted(frame, cell_formats(frame, column_config))
    labels = {c: cfg if isinstance(cfg, str) else cfg.get("label")
              for c, cfg in column_config.items()
              if c in frame.columns and isinstance(cfg, str | dict)}
    taken = set(frame.columns)
    renames = {}
    for column, label in labels.items():
        if label and label not in taken:
            renames[column] = label
            taken.add(label)
    return shown.rename(renames)


def text_config(config: str | dict) -> str | dict:
    """``config`` for a column of text: a number column's label (and help) only."""
    if isinstance(config, dict) and (config.get("type_config") or {}).get("type") == "number":
        return {k: v for k, v in config.items() if k != "type_config"}
    return config


def on_screen(frame: pl.DataFrame, column_config: dict) -> tuple[object, dict]:
    """What ``st.dataframe`` gets to draw ``frame``: a frame whose formatted numbers carry
    :func:`cell_text`'s text as display values (a pandas Styler: the cells still sort as
    numbers), and ``column_config`` without those formats. Streamlit's own printf formats
    disagree with Python's ("%g" shows every digit of a float, "%.4g" writes 1.2e-05 as
    0.000012), so the screen never formats a number itself."""
    column_config = {c: text_config(cfg) if c in frame.columns and not frame.schema[c].is_numeric()
                     else cfg for c, cfg in column_config.items()}
    formats = cell_formats(frame, column_config)
    if not formats:
        return frame, column_config
    styler = frame.to_pandas().style.format(
        {c: (lambda v, f=f: cell_text(v, f)) for c, f in formats.items()}, na_rep="")
    unformatted = {c: {**cfg, "type_config": {**cfg["type_config"], "format": None}}
                   if c in formats and isinstance(cfg, dict) and cfg.get("type_config") else cfg
                   for c, cfg in column_config.items()}
    return styler, unformatted


def file_stem(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower()[:60] or "table"


def show_table(frame: pl.DataFrame, title: str, *, download: pl.DataFrame | None = None,
               key: str | None = None, **dataframe_kwargs) -> None:
    """Draw ``frame`` with CSV and .xlsx download buttons (``download`` replaces the frame in
    the files, e.g. numbers instead of formatted text); the report shows ``frame`` as read."""
    data = frame if download is None else download
    column_config = dataframe_kwargs.pop("column_config", None) or {}
    drawn, drawn_config = on_screen(frame, column_config)
    st.dataframe(drawn, hide_index=True, column_config=drawn_config, **dataframe_kwargs)
    stem = file_stem(title)
    left, right, _ = st.columns([1, 1, 4])
    key = key or stem
    # Bytes, not callables: Streamlit's deferred downloads can miss the first clicks after a
    # server start (seen in the browser tests).
    csv, xlsx = download_files(data, stem)
    left.download_button("CSV", csv, f"{stem}.csv", "text/csv",
                         key=f"csv.{key}", icon=":material/download:", type="tertiary",
                         on_click="ignore")
    right.download_button("Excel", xlsx, f"{stem}.xlsx", XLSX_MIME,
                          key=f"xlsx.{key}", icon=":material/download:", type="tertiary",
                          on_click="ignore")
    collect.add_table(title, as_read(frame, column_config))
