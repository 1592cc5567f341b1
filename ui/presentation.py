"""Presentation mode: one figure at a time, large, titled with the cohort in words, no chrome.

The screen still runs (hidden), so the figures are exactly the ones it would show; the slide
shown is kept in the link. Keys: Right / Left for next / previous, Esc to leave.
"""

from __future__ import annotations

import re

import streamlit as st

from cohort.figures.style import for_projection
from ui import collect, urlstate
from ui.describe import cohort_words
from ui.session import View
from ui.text import literal_markdown

PRESENT_KEY = "present"
SLIDE_KEY = "present.slide"
SLIDE_PARAM = "slide"
SCREEN_CONTAINER = "screen"

_HIDE_CHROME = f"""
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], .st-key-{SCREEN_CONTAINER}
{{display: none !important;}}
[data-testid="stMainBlockContainer"] {{padding-top: 1.5rem; max-width: 100%;}}
.st-key-slide h1 {{font-size: 2.6rem;}}
.st-key-slide p {{font-size: 1.35rem;}}
</style>
"""


def toggle() -> bool:
    """The sidebar switch into presentation mode (kept in the link)."""
    return urlstate.url_toggle("Presentation mode", key=PRESENT_KEY, param=PRESENT_KEY,
                               help="One figure at a time, large, for a projector. "
                                    "Right/Left arrow: next/previous figure; Esc: leave.")


def _leave() -> None:
    st.session_state[PRESENT_KEY] = False


def _move(step: int, count: int) -> None:
    st.session_state[SLIDE_KEY] = (st.session_state.get(SLIDE_KEY, 0) + step) % count


def _slide_index(count: int) -> int:
    """The slide to show (0-based): the link's slide number (1 to ``count``) once, else the
    current one; any other link value is ignored with a notice."""
    linked = urlstate.take(SLIDE_PARAM)
    if linked is not None:
        number = linked[0] if len(linked) == 1 else ""
        if re.fullmatch(r"[0-9]{1,3}", number) and 1 <= int(number) <= count:
            st.session_state[SLIDE_KEY] = int(number) - 1
        else:
            urlstate.notice(f"Ignored the link's slide {', '.join(linked)[:40]!r}: this screen "
                            f"has {count} figure{'s' if count != 1 else ''}.")
    index = min(max(st.session_state.get(SLIDE_KEY, 0), 0), count - 1)
    st.session_state[SLIDE_KEY] = index
    return index


def show(view: View) -> None:
    """Hide the sidebar, chrome and screen; draw the current figure as a slide."""
    st.html(_HIDE_CHROME)
    figures = collect.shown().figures
    with st.container(key="slide"):
        if not figures:
            st.title("No figure on this screen")
            st.write("Leave presentation mode and choose a screen with a figure.")
            st.button("Leave presentation mode (Esc)", on_click=_leave, shortcut="Esc")
            return
        index = _slide_index(len(figures))
        title, figure = figures[index]
        analysed = collect.shown().figure_counts[index]
        heading, controls = st.columns([4, 2], vertical_alignment="center")
        with heading:
            st.title(literal_markdown(title))
            st.write(literal_markdown(f"{cohort_words(view, analysed, dataset=False)}. "
                                      f"Data: {view.label}."))
        with controls:
            buttons = st.columns(3)
            buttons[0].button("←", on_click=_move, args=(-1, len(figures)), shortcut="Left",
                              disabled=len(figures) < 2, help="Previous figure (Left arrow)")
            buttons[1].button("→", on_click=_move, args=(1, len(figures)), shortcut="Right",
                              disabled=len(figures) < 2, help="Next figure (Right arrow)")
            buttons[2].button("Leave", on_click=_leave, shortcut="Esc",
                              help="Leave presentation mode (Esc)")
            st.caption(f"Figure {index + 1} of {len(figures)}")
        st.plotly_chart(for_projection(figure), theme=None, config={"displaylogo": False},
                        key="slide_figure")
    if index:
        urlstate.record(SLIDE_PARAM, str(index + 1))
