"""Oligomet Cohort Explorer: entry point (page config, navigation, shared sidebar)."""

from __future__ import annotations

import streamlit as st

from ui.filters import filter_widgets
from ui.session import (
    DATASET_KEY,
    build_view,
    cohort_for,
    dataset_options,
    select_pending_dataset,
)

st.set_page_config(page_title="Oligomet Cohort Explorer", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    st.Page("screens/cohort.py", title="Cohort", icon=":material/groups:", default=True),
    st.Page("screens/data.py", title="Data", icon=":material/upload_file:", url_path="data"),
]


def sidebar() -> None:
    """Dataset choice, filtered N and filters; builds the view every page reads."""
    options = dataset_options()
    select_pending_dataset(options)
    with st.sidebar:
        dataset = st.selectbox("Dataset", list(options), format_func=options.get, key=DATASET_KEY)
        count_slot = st.container()
        st.subheader("Filters")
        cohort = cohort_for(dataset)
        cohort_filter = filter_widgets(dataset, cohort.patients)
    view = build_view(dataset, cohort_filter)
    with count_slot:
        st.metric("Patients in cohort", f"{view.patients.height:,}",
                  help=f"of {cohort.n_patients:,} in the dataset")
        if cohort.synthetic:
            st.caption("⚠️ Synthetic demonstration data, not patient records.")
        if cohort_filter.conditions:
            st.caption(f"Filtered: {cohort_filter.describe()}")


navigation = st.navigation(PAGES)
sidebar()
navigation.run()
