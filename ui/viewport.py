"""The browser window's inner size, measured in the page, kept in session state.

A JavaScript-only ``st.components.v2`` component reads ``window.innerWidth`` and
``innerHeight`` when it mounts and after the window stops resizing (debounced); it reports only
a size that differs from the one Python already holds, so the rerun it triggers happens once
per change. Before the first report (and in AppTest, where no browser runs) the size is
:data:`DEFAULT_SIZE`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import streamlit as st

SIZE_KEY = "viewport.size"
COMPONENT_KEY = "viewport"
DEBOUNCE_MS = 250
#: Sizes outside these bounds (CSS pixels) are not a real window: ignored.
MIN_PX, MAX_PX = 200, 16_000


class Size(NamedTuple):
    """A window's inner size in CSS pixels."""

    width: int
    height: int


DEFAULT_SIZE = Size(1280, 720)

_JS = f"""
export default function(component) {{
  const {{ data, setStateValue }} = component;
  let timer = null;
  const report = () => {{
    const width = window.innerWidth, height = window.innerHeight;
    if (!data || data.width !== width || data.height !== height) {{
      setStateValue("size", {{ width, height }});
    }}
  }};
  const onResize = () => {{ clearTimeout(timer); timer = setTimeout(report, {DEBOUNCE_MS}); }};
  report();
  window.addEventListener("resize", onResize);
  return () => {{ clearTimeout(timer); window.removeEventListener("resize", onResize); }};
}}
"""

_CSS_HIDE = f".st-key-{COMPONENT_KEY} {{display: none !important;}}"


@st.cache_resource
def _component():  # registered once per process: a second registration only logs a warning
    return st.components.v2.component("oligomet_viewport", js=_JS)


def valid_size(value: Any) -> Size | None:
    """``value`` (what the page reported) as a :class:`Size`, or None unless it is a mapping of
    integral ``width`` and ``height`` within [:data:`MIN_PX`, :data:`MAX_PX`]."""
    if not isinstance(value, dict):
        return None
    width, height = value.get("width"), value.get("height")
    numbers = [v for v in (width, height) if isinstance(v, int | float)
               and not isinstance(v, bool) and MIN_PX <= v <= MAX_PX and v == int(v)]
    if len(numbers) != 2:
        return None
    return Size(int(width), int(height))


def size() -> Size:
    """The last size measured in this session (:data:`DEFAULT_SIZE` before any)."""
    return st.session_state.get(SIZE_KEY, DEFAULT_SIZE)


def measure() -> Size:
    """Mount the (invisible) measuring component; the window's size, as far as known now."""
    st.html(f"<style>{_CSS_HIDE}</style>")
    known = size()
    result = _component()(key=COMPONENT_KEY, data=known._asdict(),
                          on_size_change=lambda: None)
    measured = valid_size(getattr(result, "size", None))
    if measured is not None and measured != known:
        st.session_state[SIZE_KEY] = measured
    return size()
