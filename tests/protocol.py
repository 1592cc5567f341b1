"""A Streamlit session driven over its own WebSocket protocol, without a browser.

What the browser's front end does to run a screen, and nothing else: it opens
``/_stcore/stream``, sends a ``rerun_script`` back message (the page's script hash and the
link's query string, as the front end sends when a sidebar link is clicked or a link opened)
and reads forward messages until ``script_finished``. Nothing is drawn, so many sessions cost
the server what real users cost it, and the clients almost nothing: a load test on a 2-core
machine then measures the server, not 20 browsers' plotly rendering.

Like the front end, the session sends back the value of every widget the last run drew (the
value the server set, else the one it held, else the widget's default;
:meth:`ProtocolSession.choose` changes one),
so the dataset and filters chosen in the sidebar hold across screens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

T = TypeVar("T")
#: Alert formats the app uses for an error notice (Alert.Format.ERROR).
_ERROR_ALERT = 1
_FINISHED = {ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY: "finished",
             ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR: "compile error",
             ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN: "stopped for a rerun"}


@dataclass
class ScreenRun:
    """What one script run sent: seconds from the request to ``script_finished``, its status,
    the text of every heading, exception and error notice, and the bytes received."""

    seconds: float = 0.0
    status: str = ""
    headings: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)
    error_notices: list[str] = field(default_factory=list)
    received_bytes: int = 0
    messages: int = 0

    @property
    def failed(self) -> bool:
        """True when the run raised, showed an error notice or did not finish cleanly."""
        return bool(self.exceptions or self.error_notices) or self.status != "finished"


class ProtocolSession:
    """One Streamlit session of the app at ``base_url`` (http://host:port), as one user."""

    def __init__(self, base_url: str, timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.pages: dict[str, str] = {}  # url path ('' for the default page) -> script hash
        #: The query string the app last wrote (the browser's address bar keeps it).
        self.query = ""
        #: Widgets the last run drew: id -> (label, value as the front end sends it).
        self.widgets: dict[str, tuple[str, WidgetState]] = {}
        self._drawn: dict[str, tuple[str, WidgetState]] = {}
        self._options: dict[str, list[str]] = {}
        self._socket: websockets.ClientConnection | None = None

    async def __aenter__(self) -> ProtocolSession:
        parts = urlsplit(self.base_url)
        self._socket = await websockets.connect(
            f"ws://{parts.netloc}/_stcore/stream", subprotocols=["streamlit"],
            origin=self.base_url, max_size=None, open_timeout=self.timeout_s,
            ping_interval=None)  # a browser sends no pings either
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def open(self, url_path: str = "", query: str = "") -> ScreenRun:
        """Run the screen at ``url_path`` (a page's url path, '' for the default) with the
        link's ``query`` string (no '?'); the page hash is known after the first run."""
        message = BackMsg()
        state = message.rerun_script
        state.query_string = query
        state.page_script_hash = self.pages.get(url_path, "")
        state.page_name = url_path
        state.context_info.url = f"{self.base_url}/{url_path}" + (f"?{query}" if query else "")
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-GB"
        state.widget_states.widgets.extend(value for _, value in self.widgets.values())
        return await self._run(message)

    def options(self, label: str) -> list[str]:
        """The choices of the selectbox or multiselect labelled ``label`` (as last drawn)."""
        return self._options[label]

    def choose(self, label: str, options: list[str]) -> None:
        """Set the selectbox or multiselect labelled ``label`` (as the last run drew it) to
        ``options`` (one for a selectbox) for the next run, as a user's choice would."""
        for widget_id, (drawn_label, value) in self.widgets.items():
            if drawn_label == label:
                chosen = WidgetState(id=widget_id)
                if value.WhichOneof("value") == "string_value":
                    chosen.string_value = options[0]
                else:
                    chosen.string_array_value.data.extend(options)
                self.widgets[widget_id] = (label, chosen)
                return
        raise KeyError(f"no widget labelled {label!r} on the last screen")

    async def _run(self, message: BackMsg) -> ScreenRun:
        assert self._socket is not None, "use the session in 'async with'"
        run = ScreenRun()
        self._drawn = {}
        start = time.monotonic()
        await self._socket.send(message.SerializeToString())
        deadline = start + self.timeout_s
        while not run.status:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                run.status = "timed out"
                break
            try:
                data = await _receive(self._socket, remaining)
            except TimeoutError:
                run.status = "timed out"
                break
            run.received_bytes += len(data)
            run.messages += 1
            self._read(ForwardMsg.FromString(data), run)
        run.seconds = time.monotonic() - start
        if run.status == "finished":
            self.widgets = self._drawn
        return run

    def _read(self, message: ForwardMsg, run: ScreenRun) -> None:
        kind = message.WhichOneof("type")
        if kind == "navigation":
            self.pages = {page.url_pathname: page.page_script_hash
                          for page in message.navigation.app_pages}
        elif kind == "page_info_changed":
            self.query = message.page_info_changed.query_string
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            _read_element(message.delta.new_element, run)
            element = message.delta.new_element
            if element.WhichOneof("type") in ("selectbox", "multiselect"):
                widget = getattr(element, element.WhichOneof("type"))
                self._options[widget.label] = list(widget.options)
            drawn = widget_value(element)
            if drawn is not None:
                kept = self.widgets.get(drawn[1].id)
                set_by_server = getattr(message.delta.new_element.WhichOneof("type") and getattr(
                    message.delta.new_element, message.delta.new_element.WhichOneof("type")),
                    "set_value", False)
                # Like the front end: a widget it already holds keeps its value unless the
                # server set one.
                self._drawn[drawn[1].id] = kept if kept and not set_by_server else drawn
        elif kind == "script_finished":
            status = _FINISHED.get(message.script_finished, "other")
            if status != "stopped for a rerun":
                run.status = status


def _read_element(element, run: ScreenRun) -> None:
    kind = element.WhichOneof("type")
    if kind == "heading":
        run.headings.append(element.heading.body)
    elif kind == "metric":
        run.metrics[element.metric.label] = element.metric.body
    elif kind == "exception":
        run.exceptions.append(f"{element.exception.type}: {element.exception.message}"[:300])
    elif kind == "alert" and element.alert.format == _ERROR_ALERT:
        run.error_notices.append(element.alert.body[:300])


def widget_value(element) -> tuple[str, WidgetState] | None:
    """(label, state the front end would send) of a widget element; None for other elements
    and for buttons (a button sends a value only when clicked)."""
    kind = element.WhichOneof("type")
    widget = getattr(element, kind)
    state = WidgetState(id=getattr(widget, "id", ""))
    if kind == "selectbox":
        value = widget.raw_value if widget.set_value else (
            widget.options[widget.default] if widget.HasField("default") else None)
        if value is None:
            return None
        state.string_value = value
    elif kind == "multiselect":
        values = list(widget.raw_values) if widget.set_value else [
            widget.options[i] for i in widget.default]
        state.string_array_value.data.extend(values)
    elif kind == "button_group":
        values = list(widget.raw_values) if widget.set_value else [
            widget.options[i].content for i in widget.default]
        state.string_array_value.data.extend(values)
    elif kind == "slider":
        state.double_array_value.data.extend(widget.value if widget.set_value else widget.default)
    elif kind == "number_input":
        value = widget.value if widget.set_value else widget.default
        if widget.data_type == widget.DataType.INT:
            state.int_value = int(value)
        else:
            state.double_value = value
    elif kind in ("checkbox", "toggle"):
        state.bool_value = widget.value if widget.set_value else widget.default
    else:
        return None
    return widget.label, state


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """``coroutine`` run to its end in a new event loop on a thread of its own (a test may
    run where Playwright's sync API keeps a loop running on the main thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _receive(socket: websockets.ClientConnection, timeout_s: float) -> bytes:
    data = await asyncio.wait_for(socket.recv(), timeout_s)
    return data if isinstance(data, bytes) else data.encode()
