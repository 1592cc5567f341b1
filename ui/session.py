"""Which cohort this browser session looks at, and the filtered view every page reads.

Bundled datasets are read-only and shared by every session (``st.cache_resource``). A user's
upload lives only in that user's ``st.session_state``: it is never put in a shared cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import streamlit as st

from cohort.datasets import list_datasets, load_dataset
from cohort.filters import CohortFilter
from cohort.schema import PATIENT_ID, Cohort

UPLOADED = "uploaded"
DATASET_KEY = "dataset"
_UPLOAD_STATE = "uploaded_cohort"
_VIEW_STATE = "view"
_PENDING_SELECTION = "dataset_pending"


@dataclass(frozen=True)
class View:
    """The chosen cohort, the filter applied, and the filtered patients and toxicities."""

    dataset: str
    cohort: Cohort
    filter: CohortFilter
    patients: pl.DataFrame
    toxicities: pl.DataFrame | None

    @property
    def label(self) -> str:
        """The cohort in words, with 'synthetic' where it is."""
        name = self.cohort.name
        flagged = self.cohort.synthetic and "synthetic" not in name.lower()
        return f"{name} (synthetic demonstration data)" if flagged else name


@st.cache_resource(max_entries=8, show_spinner=False)
def bundled_cohort(key: str) -> Cohort:
    """A bundled dataset, loaded once per server process (read-only, shared)."""
    return load_dataset(key)


def dataset_options() -> dict[str, str]:
    """Dataset key -> title, bundled first, then this session's upload if there is one."""
    options = {info.key: info.title for info in list_datasets()}
    uploaded = uploaded_cohort()
    if uploaded is not None:
        options[UPLOADED] = f"Your upload: {uploaded.name}"
    return options


def uploaded_cohort() -> Cohort | None:
    """This session's uploaded cohort, if any."""
    return st.session_state.get(_UPLOAD_STATE)


def keep_upload(cohort: Cohort) -> None:
    """Make ``cohort`` this session's upload; the sidebar selects it on the next run."""
    st.session_state[_UPLOAD_STATE] = cohort
    st.session_state[_PENDING_SELECTION] = UPLOADED


def select_pending_dataset(options: dict[str, str]) -> None:
    """Before the dataset widget is drawn: apply a pending choice, or fall back to the first."""
    pending = st.session_state.pop(_PENDING_SELECTION, None)
    if pending in options:
        st.session_state[DATASET_KEY] = pending
    elif st.session_state.get(DATASET_KEY) not in options:
        st.session_state[DATASET_KEY] = next(iter(options))


def cohort_for(dataset: str) -> Cohort:
    """The cohort behind a dataset key (this session's upload for ``UPLOADED``)."""
    if dataset == UPLOADED:
        uploaded = uploaded_cohort()
        if uploaded is None:
            raise KeyError("no uploaded dataset in this session")
        return uploaded
    return bundled_cohort(dataset)


def build_view(dataset: str, cohort_filter: CohortFilter) -> View:
    """Filter the dataset's patients, keep toxicities of the kept patients, store the view."""
    cohort = cohort_for(dataset)
    patients = cohort_filter.apply(cohort.patients)
    toxicities = cohort.toxicities
    if toxicities is not None:
        toxicities = toxicities.filter(pl.col(PATIENT_ID).is_in(patients[PATIENT_ID].implode()))
    view = View(dataset, cohort, cohort_filter, patients, toxicities)
    st.session_state[_VIEW_STATE] = view
    return view


def current_view() -> View:
    """The view the entry script built on this run."""
    return st.session_state[_VIEW_STATE]
