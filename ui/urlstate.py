"""The view state in the URL query string, kept in sync both ways.

Widgets that make up the view are drawn through the ``url_*`` wrappers below. Each has a URL
parameter name. On a session's first run the query string is read once into "pending" values;
a wrapper seeds its widget from its pending value (validated against the widget's options:
URL values are untrusted) before drawing it. Every run records each wrapper's current value,
and the entry script writes the whole state back at the end of the run (switching page clears
the browser's query string, so it is rewritten every run). Values equal to the widget's
default are left out, so a link only says what differs. Only view settings go into the URL:
dataset key, filter criteria and options, never patient rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from ui.text import literal_markdown

_READ = "_url_read"
_PENDING = "_url_pending"
_CURRENT = "_url_current"
_NOTICES = "_url_notices"
_HOLD = "_url_hold"
#: Parameters the entry script reads itself.
DATASET_PARAM = "ds"
FILE_PARAM = "file"
RESERVED = {"embed", "embed_options"}
RANGE_SEPARATOR = "~"
#: Stands for "nothing chosen" where that differs from the default (an empty list would vanish).
NONE = "(none)"


def start_run() -> None:
    """Call first in every run: reads the URL on the session's first run, resets the record."""
    if not st.session_state.get(_READ):
        st.session_state[_PENDING] = {
            key: st.query_params.get_all(key) for key in st.query_params if key not in RESERVED
        }
        st.session_state[_NOTICES] = []
        st.session_state[_READ] = True
    st.session_state[_CURRENT] = {}
    st.session_state[_HOLD] = False


def hold(held: bool = True) -> None:
    """While held, widgets do not take their values from the URL (kept for later)."""
    st.session_state[_HOLD] = held


def pending(param: str) -> list[str] | None:
    """The URL's values for ``param`` not yet used by a widget (None if absent)."""
    return st.session_state.get(_PENDING, {}).get(param)


def suggest(param: str, values: list[str]) -> None:
    """Seed ``param`` as if the URL had it, unless the URL already does (a link's implied value)."""
    if st.session_state.get(_PENDING) is not None and param not in st.session_state[_PENDING]:
        st.session_state[_PENDING][param] = values


def take(param: str) -> list[str] | None:
    """Pop the URL's values for ``param``; they seed a widget once."""
    return st.session_state.get(_PENDING, {}).pop(param, None)


def drop_pending() -> None:
    """Forget every URL value not yet used (a link whose dataset this session cannot open)."""
    if st.session_state.get(_PENDING) is not None:
        st.session_state[_PENDING] = {}


def notice(message: str) -> None:
    """Record a message about a URL value that was ignored."""
    st.session_state.setdefault(_NOTICES, []).append(message)


def record(param: str, values: Sequence[str] | str | None) -> None:
    """Put a widget's current value in this run's URL state (None or []: left out)."""
    if values is None or (not isinstance(values, str) and len(values) == 0):
        return
    st.session_state[_CURRENT][param] = [values] if isinstance(values, str) else list(values)


def record_default_aware(param: str, value: Any, default: Any, encode: Callable[[Any], Any]
                         ) -> None:
    if value != default:
        record(param, encode(value))


def query_string() -> str:
    """This run's view state as a query string (without '?')."""
    return urlencode(st.session_state.get(_CURRENT, {}), doseq=True)


def finish_run(page: str, pages: set[str]) -> None:
    """Call last in every run, with this screen's name and all screens' names.

    A screen's parameters are named '<screen>.<name>'. Those of another screen stay pending
    until that screen is opened; any other value no widget took becomes a notice. The URL is
    then rewritten from this run's state.
    """
    leftover = st.session_state.get(_PENDING, {})
    current = st.session_state.get(_CURRENT, {})
    if leftover.get(DATASET_PARAM) is not None:  # waiting for an upload: keep the whole link
        current.update(leftover)
    else:
        for param in list(leftover):
            screen = param.split(".", 1)[0] if "." in param else None
            if screen in pages and screen != page:
                continue
            notice(f"Ignored unknown link parameter '{param}'.")
            leftover.pop(param)
    if {k: st.query_params.get_all(k) for k in st.query_params} != current:
        st.query_params.from_dict(current)


def take_notices() -> list[str]:
    """Notices collected so far (cleared)."""
    return st.session_state.pop(_NOTICES, [])


def share_url() -> str:
    """The full link to this view: this page's address plus the view's query string."""
    base = (st.context.url or "").split("?", 1)[0]
    query = query_string()
    return f"{base}?{query}" if query else base


# --------------------------------------------------------------------------- widgets


def _initial(key: str, **default: Any) -> dict[str, Any]:
    """The widget's default argument, unless its value is already in session state."""
    return {} if key in st.session_state else default


def _text(number: float) -> str:
    return format(number, ".10g")


def _seed(key: str, param: str, decode: Callable[[list[str]], Any | None], label: str,
          single: bool = True) -> None:
    """Set the widget ``key`` from the link's value for ``param``; a value ``decode`` rejects
    (None), or several values for a ``single``-valued widget, is ignored with a notice."""
    if st.session_state.get(_HOLD):
        return
    values = take(param)
    if values is None:
        return
    if single and len(values) != 1:
        notice(f"Ignored the link's values for {label}: it gives {len(values)} values where one "
               "is expected.")
        return
    decoded = decode(values)
    if decoded is None:
        notice(f"Ignored the link's value for {label}: {', '.join(values)[:80]!r}.")
        return
    st.session_state[key] = decoded


def _by_text(options: Sequence[Any]) -> dict[str, Any]:
    """Each option under the text a link holds for it; a number also as written short
    (6.0 is matched by "6.0" and by "6")."""
    by_text = {str(option): option for option in options}
    for option in options:
        if isinstance(option, float) and not isinstance(option, bool):
            by_text.setdefault(f"{option:g}", option)
    return by_text


def url_selectbox(label: str, options: Sequence[Any], *, key: str, param: str,
                  index: int | None = 0, **kwargs) -> Any:
    """``st.selectbox`` whose choice lives in the URL (options are matched as text)."""
    by_text = _by_text(options)
    _seed(key, param, lambda v: by_text.get(v[0]) if v[0] in by_text else None, label)
    value = st.selectbox(literal_markdown(label), options, key=key, **_initial(key, index=index),
                         **kwargs)
    default = options[index] if index is not None and options else None
    if value != default and value is not None:
        record(param, str(value))
    return value


def url_multiselect(label: str, options: Sequence[Any], *, key: str, param: str,
                    default: Sequence[Any] = (), **kwargs) -> list[Any]:
    """``st.multiselect`` whose choices live in the URL; unknown values are dropped (all of
    them unknown: the default stays)."""
    by_text = _by_text(options)

    def decode(values: list[str]) -> list[Any] | None:
        known = [by_text[v] for v in values if v in by_text]
        unknown = [v for v in values if v not in by_text and v != NONE]
        if unknown and not known:
            return None  # the default stays; _seed says the link's value was ignored
        if unknown:
            notice(f"Ignored {', '.join(repr(v) for v in unknown[:5])} for {label}: "
                   "not among its choices here.")
        return known

    _seed(key, param, decode, label, single=False)
    value = st.multiselect(literal_markdown(label), options, key=key, **_initial(key, default=list(default)),
                           **kwargs)
    if list(value) != list(default):
        record(param, [str(v) for v in value] or [NONE])
    return value


def _number_text(value: Any) -> str:
    """A number as a link and the widget write it (365.0 -> "365"); anything else as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _text(value)
    return str(value)


def _numbers(values: Sequence[Any], parse: Callable[[str], float | None]
             ) -> tuple[list[float], list[str]]:
    """The distinct numbers among ``values`` (numbers, or text ``parse`` reads), sorted, and
    the texts it rejects."""
    numbers, rejected = set(), []
    for value in values:
        number = parse(_number_text(value))
        if number is None:
            rejected.append(str(value))
        else:
            numbers.add(number)
    return sorted(numbers), rejected


def url_number_multiselect(label: str, choices: Sequence[float], *, key: str, param: str,
                           parse: Callable[[str], float | None], default: Sequence[float] = (),
                           invalid: str = "not a valid number here", max_selections: int = 12,
                           **kwargs) -> list[float]:
    """``st.multiselect`` of numbers whose choices live in the URL, where the user may also
    type a number not among ``choices`` (``accept_new_options``). A typed or linked value is
    kept when ``parse`` reads a number from its text, else ignored (``invalid`` says why): a
    typed one with a warning under the widget, a linked one with a notice; a link's values
    beyond ``max_selections`` too. Returns the numbers chosen, sorted."""
    def decode(values: list[str]) -> list[float] | None:
        numbers, rejected = _numbers([v for v in values if v != NONE], parse)
        if rejected and not numbers:
            return None  # the default stays; _seed says the link's value was ignored
        if rejected:
            notice(f"Ignored {_quoted(rejected)} for {label}: {invalid}.")
        if len(numbers) > max_selections:
            notice(f"Kept the first {max_selections} of the link's {len(numbers)} values for "
                   f"{label}.")
        return numbers[:max_selections]

    _seed(key, param, decode, label, single=False)
    rejected: list[str] = []
    if key in st.session_state:  # typed values come back as text: read them before drawing
        st.session_state[key], rejected = _numbers(st.session_state[key], parse)
    chosen = st.session_state.get(key, list(default))
    options = sorted({*map(float, choices), *chosen})
    value = st.multiselect(literal_markdown(label), options, key=key, accept_new_options=True,
                           format_func=_number_text, max_selections=max_selections,
                           **_initial(key, default=list(default)), **kwargs)
    if rejected:
        st.warning(literal_markdown(f"Ignored {_quoted(rejected)} for {label}: {invalid}."),
                   icon=":material/warning:")
    numbers = _numbers(value, parse)[0]
    if numbers != sorted(map(float, default)):
        record(param, [_text(v) for v in numbers] or [NONE])
    return numbers


def _quoted(texts: list[str]) -> str:
    """Up to five texts, each cut to 20 characters and quoted."""
    return ", ".join(repr(t[:20]) for t in texts[:5])


def _parse_number(text: str, integer: bool) -> float | int | None:
    """The number ``text`` writes (a whole one if ``integer``), or None: not a finite number,
    or not whole where one is expected (never rounded)."""
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    if integer:
        return int(number) if number.is_integer() else None
    return number


def url_range_slider(label: str, low: float, high: float, *, key: str, param: str,
                     step: float, integer: bool = False) -> tuple[float, float]:
    """A range ``st.slider`` over [low, high] whose range lives in the URL as 'lo~hi'; a link's
    range not within [low, high] is ignored (never clamped)."""
    def decode(values: list[str]) -> tuple | None:
        parts = values[0].split(RANGE_SEPARATOR)
        if len(parts) != 2:
            return None
        numbers = [_parse_number(p, integer) for p in parts]
        if None in numbers or numbers[0] > numbers[1]:
            return None
        inside = all(low <= n <= high for n in numbers)
        return tuple(numbers) if inside else None

    _seed(key, param, decode, label)
    value = st.slider(literal_markdown(label), min_value=low, max_value=high, step=step, key=key,
                      **_initial(key, value=(low, high)))
    record_default_aware(param, tuple(value), (low, high),
                         lambda v: f"{_text(v[0])}{RANGE_SEPARATOR}{_text(v[1])}")
    return value


def url_number(label: str, *, key: str, param: str, value: float, min_value: float,
               max_value: float, step: float, integer: bool = False, **kwargs) -> float:
    """``st.number_input`` whose value lives in the URL."""
    def decode(values: list[str]) -> float | None:
        number = _parse_number(values[0], integer)
        return number if number is not None and min_value <= number <= max_value else None

    _seed(key, param, decode, label)
    chosen = st.number_input(literal_markdown(label), min_value=min_value, max_value=max_value, step=step,
                             key=key, **_initial(key, value=value), **kwargs)
    record_default_aware(param, chosen, value, _text)
    return chosen


def url_toggle(label: str, *, key: str, param: str, value: bool = False,
               widget: Callable = st.toggle, **kwargs) -> bool:
    """``st.toggle`` (or ``st.checkbox`` via ``widget``) whose state lives in the URL."""
    flags = {"1": True, "0": False, "true": True, "false": False}
    _seed(key, param, lambda v: flags.get(v[0].lower()), label)
    chosen = widget(literal_markdown(label), key=key, **_initial(key, value=value), **kwargs)
    record_default_aware(param, chosen, value, lambda v: "1" if v else "0")
    return chosen

