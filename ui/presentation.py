"""Presentation mode: one figure at a time, large, titled with the cohort in words, no chrome.

The screen still runs (hidden), so the figures are exactly the ones it would show; the slide
shown is kept in the link. Keys: Right / Left for next / previous, Esc to leave.
"""

from __future__ import annotations

import math
import re

import streamlit as st

from cohort.figures.slide import for_slide, screen_scale
from cohort.suppression import is_small, patient_count
from ui import collect, urlstate, viewport
from ui.session import View
from ui.text import literal_markdown

PRESENT_KEY = "present"
SLIDE_KEY = "present.slide"
SLIDE_PARAM = "slide"
SCREEN_CONTAINER = "screen"

#: The slide's heading and spacing, CSS px on a 1280 x 720 screen (grown with the screen).
PAD_TOP_PX, PAD_X_PX = 12, 32
TITLE_PX, TITLE_LINE = 30, 1.2
SUBTITLE_PX, SUBTITLE_LINE = 17, 1.35
GAP_PX = 6
BUTTON_PX, CAPTION_PX, CAPTION_LINE = 40, 14, 1.4
#: The arrow and Leave buttons with the "Figure 1 of 2" caption under them.
CONTROLS_PX = BUTTON_PX + GAP_PX + CAPTION_PX * CAPTION_LINE
SAFETY_PX = 10  # rounding of line heights, so the figure's last pixel stays on the screen
HEADING_SHARE = 4 / 6  # of the slide width, the rest for the controls
CHAR_WIDTH = 0.55  # average character width of the heading font, in font sizes


_COLUMNS = '.st-key-slide [data-testid="stHorizontalBlock"]'
_HEADING = f'{_COLUMNS} > [data-testid="stColumn"]:first-child'
_CONTROLS = f'{_COLUMNS} > [data-testid="stColumn"]:last-child'


def _chrome_css(scale: float) -> str:
    """Hide the sidebar, header, toolbar and screen; the slide's spacing and heading fonts
    grown by ``scale``."""
    def px(value: float) -> str:
        return f"{value * scale:.1f}px"

    return f"""
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], .st-key-{SCREEN_CONTAINER}
{{display: none !important;}}
[data-testid="stMainBlockContainer"] {{padding: {px(PAD_TOP_PX)} {px(PAD_X_PX)} 0;
  max-width: 100%;}}
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] {{gap: {px(GAP_PX)};}}
.st-key-slide [data-testid="stMarkdownContainer"],
.st-key-slide [data-testid="stCaptionContainer"] {{margin-bottom: 0;}}
.st-key-slide h1 {{font-size: {px(TITLE_PX)}; line-height: {TITLE_LINE}; padding: 0;
  margin: 0;}}
.st-key-slide h1 a, .st-key-slide h1 [data-testid="stHeaderActionElements"]
{{display: none !important;}}
{_HEADING} [data-testid="stMarkdownContainer"] p {{font-size: {px(SUBTITLE_PX)};
  line-height: {SUBTITLE_LINE}; margin: 0;}}
{_CONTROLS} [data-testid="stCaptionContainer"] p {{font-size: {px(CAPTION_PX)};
  line-height: {CAPTION_LINE}; margin: 0;}}
{_CONTROLS} button {{min-height: {px(BUTTON_PX)}; height: {px(BUTTON_PX)};}}
{_CONTROLS} button p {{font-size: {px(16)};}}
</style>
"""


def _lines(text: str, font_px: float, width_px: float) -> int:
    """Lines ``text`` wraps to at ``font_px`` in ``width_px`` (an estimate, rounded up)."""
    per_line = max(int(width_px / (CHAR_WIDTH * font_px)), 1)
    return max(math.ceil(len(text) / per_line), 1)


def heading_height(title: str, subtitle: str, width_px: float, scale: float) -> float:
    """CSS px the slide's heading row takes above the figure, spacing included."""
    column = (width_px - 2 * PAD_X_PX * scale) * HEADING_SHARE
    words = (_lines(title, TITLE_PX * scale, column) * TITLE_PX * TITLE_LINE
             + GAP_PX + _lines(subtitle, SUBTITLE_PX * scale, column) * SUBTITLE_PX
             * SUBTITLE_LINE)
    # a gap after the (empty) notice slot above the slide, and one between heading and figure
    return (PAD_TOP_PX + GAP_PX + max(words, CONTROLS_PX) + GAP_PX + SAFETY_PX) * scale


def patients_words(analysed: int | str | None, total: int, min_cell: int | None = None,
                   counted: str | None = None) -> str:
    """'n = 68 of 4,299 patients' ('n = 4,299 patients' when the figure analyses them all);
    with ``counted`` ('assessed') 'n = 233 assessed of 4,299 patients' ('n = 4,299 patients,
    all assessed'). Under ``min_cell`` (cohort.suppression) small counts read '<11' and 'of N'
    is left out when the difference would be a hidden count ('n = 495 patients assessed'); a
    text ``analysed`` (suppressed already, e.g. 'withheld') is written as it is, without
    'of N'."""
    verb = f" {counted}" if counted else ""
    if isinstance(analysed, str):
        return f"n = {analysed} patients{verb}"
    if analysed is None or analysed == total:
        return f"n = {patient_count(total, min_cell)} patients" + (
            f", all {counted}" if counted else "")
    if is_small(total - analysed, min_cell):
        return f"n = {patient_count(analysed, min_cell)} patients{verb}"
    return (f"n = {patient_count(analysed, min_cell)}{verb} of "
            f"{patient_count(total, min_cell)} patients")


def subtitle(view: View, analysed: int | str | None, counted: str | None = None) -> str:
    """Patients analysed (or ``counted``), filters and data set of a slide, in one line."""
    filters = view.filter.describe() if view.filter.conditions else "All patients"
    words = patients_words(analysed, view.n_patients, view.min_cell, counted)
    return f"{words}. {filters}. Data: {view.label}."


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
    """Hide the sidebar, chrome and screen; draw the current figure as a slide that fills the
    browser window (its size measured by :mod:`ui.viewport`)."""
    size = viewport.measure()
    scale = screen_scale(*size)
    st.html(_chrome_css(scale))
    figures = collect.shown().figures
    with st.container(key="slide"):
        if not figures:
            st.title("No figure on this screen")
            st.write("Leave presentation mode and choose a screen with a figure.")
            st.button("Leave presentation mode (Esc)", on_click=_leave, shortcut="Esc")
            return
        index = _slide_index(len(figures))
        title, figure = figures[index]
        shown = collect.shown()
        verb = shown.figure_verbs[index]
        words = subtitle(view, shown.figure_counts[index],
                         None if verb == collect.ANALYSED else verb)
        heading, controls = st.columns([HEADING_SHARE, 1 - HEADING_SHARE],
                                       vertical_alignment="top")
        with heading:
            st.title(literal_markdown(title), anchor=False)
            st.markdown(literal_markdown(words))
        with controls:
            _controls(index, len(figures))
        height = size.height - heading_height(title, words, size.width, scale)
        width = size.width - 2 * PAD_X_PX * scale
        st.plotly_chart(for_slide(figure, width, height, scale=scale), theme=None,
                        config={"displaylogo": False}, key="slide_figure")
    if index:
        urlstate.record(SLIDE_PARAM, str(index + 1))


def _controls(index: int, count: int) -> None:
    buttons = st.columns(3)
    buttons[0].button("←", on_click=_move, args=(-1, count), shortcut="Left",
                      disabled=count < 2, help="Previous figure (Left arrow)")
    buttons[1].button("→", on_click=_move, args=(1, count), shortcut="Right",
                      disabled=count < 2, help="Next figure (Right arrow)")
    buttons[2].button("Leave", on_click=_leave, shortcut="Esc",
                      help="Leave presentation mode (Esc)")
    st.caption(f"Figure {index + 1} of {count}")
