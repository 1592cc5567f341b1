"""The shared sidebar: dataset, filtered patient count, filters and the link to this view."""

from __future__ import annotations

import streamlit as st

from cohort.suppression import in_total_words, patient_count
from cohort.views import choices_of
from ui import presentation, urlstate
from ui.auth import signed_in_panel
from ui.charts import FIGURE_FORMATS, FORMAT_KEY
from ui.filters import filter_widgets
from ui.report import report_button
from ui.session import (
    DATASET_KEY,
    UPLOADED,
    View,
    build_view,
    cohort_for,
    dataset_options,
    select_pending_dataset,
    uploaded_cohort,
    withheld,
)
from ui.text import literal_markdown
from ui.urlstate import (
    DATASET_PARAM,
    FILE_PARAM,
    drop_pending,
    notice,
    pending,
    record,
    share_url,
    take,
    take_notices,
    url_selectbox,
)


def awaited_upload() -> str | None:
    """The file name a link asks for when it was made on an upload this session lacks."""
    wanted = pending(DATASET_PARAM)
    if wanted == [UPLOADED] and uploaded_cohort() is None:
        return (pending(FILE_PARAM) or ["the same file"])[0]
    return None


WITHHELD_NOTICES = {
    "access": "You do not have access to the dataset {key!r} this link opens. Ask the person "
              "who sent it, or the app's administrators, for access.",
    "unavailable": "The dataset {key!r} this link opens is not available on this server at the "
                   "moment (its source could not be read). Try again later or tell the app's "
                   "administrators.",
}


def _withheld_link() -> None:
    """A link to a configured dataset this session may not see (or that failed to load): say
    so, and open none of the link's view (its filters belong to that dataset)."""
    wanted = pending(DATASET_PARAM)
    reason = withheld(wanted[0]) if wanted and len(wanted) == 1 else None
    if reason is not None:
        notice(WITHHELD_NOTICES[reason].format(key=wanted[0][:60]))
        drop_pending()


def _dataset_widget(options: dict[str, str]) -> str:
    _withheld_link()
    if awaited_upload():
        return st.selectbox("Dataset", list(options), format_func=options.get, key=DATASET_KEY)
    dataset = url_selectbox("Dataset", list(options), format_func=options.get,
                            key=DATASET_KEY, param=DATASET_PARAM)
    take(FILE_PARAM)
    if dataset == UPLOADED:
        record(FILE_PARAM, uploaded_cohort().name)
    return dataset


def render_sidebar() -> View:
    """Draw the sidebar; the filtered view every screen reads."""
    options = dataset_options()
    select_pending_dataset(options)
    with st.sidebar:
        dataset = _dataset_widget(options)
        count_slot = st.container()
        st.subheader("Filters")
        cohort = cohort_for(dataset)
        urlstate.hold(awaited_upload() is not None)
        cohort_filter = filter_widgets(dataset, choices_of(cohort), cohort.identifying)
        urlstate.hold(False)
        st.divider()
        presentation.toggle()
        url_selectbox("Figure camera button saves", list(FIGURE_FORMATS), key=FORMAT_KEY,
                      param="format", format_func=FIGURE_FORMATS.get)
        signed_in_panel()
    view = build_view(dataset, cohort_filter)
    with count_slot:
        st.metric("Patients in cohort", patient_count(view.n_patients, view.min_cell),
                  help=in_total_words(view.n_patients, cohort.n_patients, view.min_cell))
        if cohort.synthetic:
            st.caption("⚠️ Synthetic demonstration data, not patient records.")
        if cohort_filter.conditions:
            st.caption(literal_markdown(f"Filtered: {cohort_filter.describe()}"))
    return view


def link_notices(slot) -> None:
    """Tell the user, in ``slot`` above the screen, about a link they cannot fully open."""
    with slot:
        file_name = awaited_upload()
        if file_name:
            st.info(f"This link shows a view of an uploaded file. Patient data never travels "
                    f"in links: upload **{literal_markdown(file_name)}** on the Data page to see "
                    "this view.",
                    icon=":material/upload_file:")
        for message in take_notices():
            st.warning(literal_markdown(message), icon=":material/link_off:")


def share_panel(view: View, screen_title: str) -> None:
    """Link, report and figure format (draw after the screen: they cover what it showed)."""
    with st.sidebar:
        st.divider()
        with st.popover("Copy link to this view", icon=":material/link:",
                        use_container_width=True):
            st.caption("Copy with the button at the right of the link. It holds the dataset "
                       "name, filters and options, never patient data.")
            st.code(share_url(), language=None, wrap_lines=True)
        report_button(view, screen_title, share_url())
