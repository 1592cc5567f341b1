"""Showing tables: the table, its CSV and .xlsx downloads, and a place in the HTML report."""

from __future__ import annotations

import re

import polars as pl
import streamlit as st

from cohort.elementwise import each_value
from cohort.export import safe_csv, safe_xlsx
from ui import collect
from ui.cache import session_cache

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@session_cache(max_entries=64)
def download_files(frame: pl.DataFrame, sheet: str) -> tuple[bytes, bytes]:
    """CSV and .xlsx bytes of ``frame``, written once per table per session (an .xlsx takes
    15-40 ms; this session's cache only: tables hold patient data)."""
    return safe_csv(frame), safe_xlsx(frame, sheet)


def as_read(frame: pl.DataFrame, column_config: dict) -> pl.DataFrame:
    """``frame`` as the screen shows it, for the report: columns under their on-screen labels
    and numbers written as the screen formats them (percentages, printf formats like "%.2f")."""
    formats = {c: (cfg.get("type_config") or {}).get("format")
               for c, cfg in column_config.items() if c in frame.columns and isinstance(cfg, dict)}
    percent = [c for c, f in formats.items() if f == "percent"]
    printf = {c: f for c, f in formats.items() if isinstance(f, str) and f.startswith("%")}
    shown = frame.with_columns(
        *(pl.format("{}%", (pl.col(c) * 100).round(2)).alias(c) for c in percent),
        *(each_value(frame, c, lambda v, f=f: f % v) for c, f in printf.items()),
    )
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


def file_stem(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower()[:60] or "table"


def show_table(frame: pl.DataFrame, title: str, *, download: pl.DataFrame | None = None,
               key: str | None = None, **dataframe_kwargs) -> None:
    """Draw ``frame`` with CSV and .xlsx download buttons (``download`` replaces the frame in
    the files, e.g. numbers instead of formatted text); the report shows ``frame`` as read."""
    data = frame if download is None else download
    st.dataframe(frame, hide_index=True, **dataframe_kwargs)
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
    collect.add_table(title, as_read(frame, dataframe_kwargs.get("column_config") or {}))
