"""Published vs. this cohort: each published figure beside the value computed from the rows."""

from __future__ import annotations

import polars as pl
import streamlit as st

from cohort.calibration import calibration_summary, calibration_table, papers
from cohort.datasets import demo_courses, load_dataset
from cohort.elementwise import each_value
from ui.hardening import run_through_entry_script
from ui.tables import show_table

run_through_entry_script()

DEMO = "oligomet-demo"


@st.cache_data(max_entries=1, show_spinner="Computing every published figure from the rows…")
def demo_calibration() -> pl.DataFrame:
    """The calibration table of the bundled demonstration cohort (no user data: shared cache)."""
    demo = load_dataset(DEMO)
    return calibration_table(demo.patients, demo.toxicities, courses=demo_courses())


@st.cache_data(max_entries=1, show_spinner=False)
def demo_papers() -> pl.DataFrame:
    """The papers of the published figures: study, citation, title, doi (no user data)."""
    return papers().drop("source")


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("✓" if ok else "✗")


st.title("Published vs. this cohort")
st.caption(
    "The demonstration cohort is **synthetic**: rows reconstructed from the published figures of "
    "five studies, not patient records. Each published figure stands beside the value the app "
    "computes from the bundled rows (all rows of each study, whatever the sidebar filters), "
    "with the same functions the other screens use: Kaplan-Meier medians as R's survfit, "
    "landmark rates, Aalen-Johansen cumulative incidence where death competes."
)
table = demo_calibration()
summary = calibration_summary(table)
cols = st.columns(4)
cols[0].metric("Published figures", f"{summary['figures']}")
cols[1].metric("Within tolerance", f"{summary['within']} of {summary['checked']}")
cols[2].metric("Outside tolerance", f"{summary['outside']}")
cols[3].metric("Not comparable", f"{summary['not_comparable']}",
               help="The paper contradicts itself; the note says how.")

studies = table["study"].unique(maintain_order=True).to_list()
chosen = st.segmented_control("Study", ["All", *studies], default="All", key="published_study")
kinds = table["kind"].unique(maintain_order=True).to_list()
chosen_kinds = st.multiselect("Kind of figure", kinds, placeholder="All kinds",
                              key="published_kinds")
shown = table if chosen in (None, "All") else table.filter(pl.col("study") == chosen)
if chosen_kinds:
    shown = shown.filter(pl.col("kind").is_in(chosen_kinds))
show_table(
    shown.with_columns(each_value(shown, "ok", verdict)).drop("source"),
    "Published figures beside this cohort", download=shown,
    height=min(38 + 35 * shown.height, 900),
    column_config={
        "published": st.column_config.NumberColumn(format="%.4g"),
        "cohort": st.column_config.NumberColumn("this cohort", format="%.4g"),
        "difference": st.column_config.NumberColumn(format="%.3g"),
        "tolerance": st.column_config.NumberColumn("± tolerance", format="%.3g"),
        "ok": st.column_config.TextColumn("within", width="small"),
        "citation": st.column_config.TextColumn("paper"),
    },
)
st.markdown("**The papers**")
show_table(demo_papers(), "Papers of the published figures", key="published_papers",
           column_config={"study": "Study", "citation": "Citation", "title": "Title",
                          "doi": "DOI"})
st.caption("Tolerances: counts exact; baseline values to the printed precision; Kaplan-Meier "
           "medians and follow-up within 10% or 1 month, whichever is larger; landmark rates "
           "within 0.05. How each figure was rebuilt, and every assumption where a paper is "
           "silent, is in data/README.md.")
