"""The report download: the current view as one offline HTML file."""

from __future__ import annotations

import re
from datetime import date

import streamlit as st

from cohort.report import ReportContent, build_report, patients_analysed
from ui import collect
from ui.describe import cohort_label
from ui.session import View

_PREPARED = "report_prepared"


def report_content(view: View, screen_title: str, link: str) -> ReportContent:
    """Everything the screen showed this run, with the cohort, filters and provenance; the
    cohort's n is the figures' n (and the filtered total when they analyse fewer)."""
    shown = collect.shown()
    verbs = {verb for n, verb in zip(shown.figure_counts, shown.figure_verbs, strict=True)
             if n is not None}
    counted = verbs.pop() if len(verbs) == 1 else collect.ANALYSED
    patients = patients_analysed(view.n_patients, shown.figure_counts, view.min_cell,
                                 counted)
    return ReportContent(
        title=f"{screen_title}: {view.cohort.name}",
        cohort=f"{cohort_label(view)}, {patients}",
        filters=view.filter.describe(),
        provenance=view.cohort.provenance,
        synthetic=view.cohort.synthetic,
        figures=list(shown.figures),
        tables=list(shown.tables),
        methods=list(shown.notes),
        link=link,
    )


def report_button(view: View, screen_title: str, link: str) -> None:
    """'Prepare report' builds the HTML of this view on demand; its download button follows.

    Built on request and kept for this link only: ~5 MB (plotly.js inlined so it opens offline)
    is too much to send on every run, and deferred (callable) downloads can miss clicks.
    """
    prepared = st.session_state.get(_PREPARED)
    if prepared is not None and prepared[0] != link:
        prepared = st.session_state[_PREPARED] = None
    if prepared is None:
        if st.button("Prepare report (HTML)", icon=":material/description:",
                     use_container_width=True, key="report_prepare",
                     help="This screen's figures and tables, the filters in words, methods, "
                          "data provenance, app version and date, in one file that opens "
                          "offline."):
            html = build_report(report_content(view, screen_title, link)).encode("utf-8")
            st.session_state[_PREPARED] = (link, html)
            st.rerun()
        return
    stem = re.sub(r"[^a-z0-9]+", "_", screen_title.lower()).strip("_")
    st.download_button(
        "Download report (HTML)", prepared[1], f"oligomet_{stem}_{date.today():%Y%m%d}.html",
        "text/html", icon=":material/download:", use_container_width=True, type="primary",
        key="report_download", on_click="ignore",
    )
