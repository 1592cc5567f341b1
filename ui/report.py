"""The report download: the current view as one offline HTML file."""

from __future__ import annotations

import re
from datetime import date

import streamlit as st

from cohort.report import ReportContent, build_report
from ui import collect
from ui.describe import cohort_words
from ui.session import View


def report_content(view: View, screen_title: str, link: str) -> ReportContent:
    """Everything the screen showed this run, with the cohort, filters and provenance."""
    shown = collect.shown()
    return ReportContent(
        title=f"{screen_title}: {view.cohort.name}",
        cohort=cohort_words(view),
        filters=view.filter.describe(),
        provenance=view.cohort.provenance,
        synthetic=view.cohort.synthetic,
        figures=list(shown.figures),
        tables=list(shown.tables),
        methods=list(shown.notes),
        link=link,
    )


def report_button(view: View, screen_title: str, link: str) -> None:
    """A download button that builds the report when clicked (not on every run)."""
    content = report_content(view, screen_title, link)
    stem = re.sub(r"[^a-z0-9]+", "_", screen_title.lower()).strip("_")
    st.download_button(
        "Download report (HTML)", lambda: build_report(content).encode("utf-8"),
        f"oligomet_{stem}_{date.today():%Y%m%d}.html", "text/html",
        icon=":material/description:", use_container_width=True, key="report_download",
        help="This screen's figures and tables, the filters in words, methods, data "
             "provenance, app version and date, in one file that opens offline.",
    )
