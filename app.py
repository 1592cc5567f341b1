"""Oligomet Cohort Explorer: entry point (page config, navigation, shared sidebar, URL state)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import collect, presentation, urlstate
from ui.audit import record_view
from ui.auth import require_sign_in
from ui.hardening import harden, run_through_entry_script
from ui.logscrub import install_log_scrubber
from ui.session import release_view
from ui.sidebar import awaited_upload, link_notices, render_sidebar, share_panel

run_through_entry_script()
# A local icon: material-icon and emoji favicons are fetched from a third-party font CDN.
st.set_page_config(page_title="Oligomet Cohort Explorer",
                   page_icon=str(Path(__file__).parent / "ui" / "icon.png"), layout="wide")

DATA_PAGE = st.Page("pages/data.py", title="Data", icon=":material/upload_file:", url_path="data")
PAGES = [
    st.Page("pages/cohort.py", title="Cohort", icon=":material/groups:", default=True),
    st.Page("pages/survival.py", title="Survival", icon=":material/show_chart:",
            url_path="survival"),
    st.Page("pages/cox.py", title="Cox model", icon=":material/forest:", url_path="cox"),
    st.Page("pages/toxicity.py", title="Toxicity", icon=":material/healing:", url_path="toxicity"),
    st.Page("pages/dose.py", title="Dose", icon=":material/radiology:", url_path="dose"),
    st.Page("pages/published.py", title="Published vs. this cohort", icon=":material/fact_check:",
            url_path="published"),
    DATA_PAGE,
]

DEFAULT_SCREEN = "cohort"


def screen_name(page: st.Page) -> str:
    """The screen's name: its URL path (the default screen has none), prefix of its link params."""
    return page.url_path or DEFAULT_SCREEN


def main() -> None:
    """One run of the app. Its names are locals: the script module of the last run stays in
    ``sys.modules["__main__"]`` until the next run of any session, and module-level names would
    keep this session's cohort alive after the session has ended."""
    harden()
    install_log_scrubber()
    require_sign_in(page.url_path for page in PAGES if page.url_path)
    urlstate.start_run()
    collect.reset()
    navigation = st.navigation(PAGES)
    view = render_sidebar()
    record_view(view.dataset, screen_name(navigation), view.filter)
    notice_slot = st.container()
    with st.container(key=presentation.SCREEN_CONTAINER):
        if awaited_upload() and screen_name(navigation) != "data":
            # The link's view belongs to a file not uploaded yet: nothing is analysed until it
            # is (not the default dataset in its place), and the view's options wait in the link.
            st.title(navigation.title)
            st.page_link(DATA_PAGE, label="Upload the file on the Data page",
                         icon=":material/upload_file:")
        else:
            navigation.run()
    share_panel(view, navigation.title)
    if st.session_state.get(presentation.PRESENT_KEY):
        presentation.show(view)
    urlstate.finish_run(screen_name(navigation), {screen_name(page) for page in PAGES})
    link_notices(notice_slot)


try:
    main()
finally:
    release_view()  # no filtered copy of a shared dataset stays in the session between runs
