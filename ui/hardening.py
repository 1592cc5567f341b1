"""Hosting hardening of Streamlit 1.67.0 internals, installed once per server process.

What Streamlit lacks a config option for, patched narrowly (each patch checks the internals it
relies on and raises ``HardeningError`` if they changed; ``tests/test_hardening.py`` too):

- **Media files belong to one session.** A download's id is an HMAC (per-process random key)
  of the session id and the full sha256 of content, mimetype and file name: unguessable, never
  shared between sessions (Streamlit's own id hashes only the length and three 64 KiB samples
  of files over 1 MiB, so two near-identical reports got the same id). A file is served only to
  the browser whose XSRF token (Streamlit's ``_streamlit_xsrf`` cookie, set by the health check
  the page polls before it opens its websocket) its session saw, and is deleted when its session
  ends.
- **Closed sessions end promptly.** A disconnected session is kept for reconnection for
  ``server.disconnectedSessionTTL`` seconds; Streamlit then drops it lazily without shutting it
  down (its uploads and media stay). A reaper on the server's event loop shuts expired
  sessions down every ``REAP_INTERVAL_S`` and returns the memory (gc, ``malloc_trim``).
  Streamlit's message loop (``Runtime._loop_coroutine``, suspended between flushes) keeps its
  ``for active_session_info in ...`` variable, and the last flushed messages, bound after the
  loop: the last session flushed (its state, its upload) stayed alive until another session was
  flushed. After a shutdown those stale locals are cleared (``release_flush_loop_locals``).
- **A client cannot clear the caches of every user**: the ``clear_cache`` message is refused
  outside ``global.developmentMode``.
- **Every HTTP response** forbids framing (``X-Frame-Options: DENY``, CSP ``frame-ancestors
  'none'``) and MIME sniffing, sends no referrer, and media are ``no-store``;
  ``/_stcore/metrics`` answers 404; ``server.allowedHosts`` (which Streamlit checks on the
  websocket only) is checked on HTTP requests too.

``harden()`` is called by ``app.py`` at the top of every run: the first run installs (headers
start with it: the responses before the first script run after a server start, the first
visitor's page shell, carry none); each run records the XSRF token of the session's browser.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import gc
import hashlib
import hmac
import inspect
import logging
import os.path
import secrets
import sys
import threading
import types
from collections.abc import Awaitable, Callable
from typing import Any

import streamlit as st
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from streamlit import config, runtime
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.caching.ttl_cache import TTLCache
from streamlit.runtime.memory_media_file_storage import MemoryFile, MemoryMediaFileStorage
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string
from streamlit.web.server.starlette.starlette_server_config import XSRF_COOKIE_NAME
from streamlit.web.server.starlette.starlette_websocket import is_host_allowed

STREAMLIT_VERSION = "1.67.0"
REAP_INTERVAL_S = 5.0
METRICS_PATH = "/_stcore/metrics"
MEDIA_PREFIX = "/media/"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_LOGGER = logging.getLogger(__name__)
_SECRET = secrets.token_bytes(32)
_install_lock = threading.Lock()
_installed = False
#: Session id -> the XSRF token of the browser its websocket came from (None: it had none).
_client_by_session: dict[str, bytes | None] = {}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class HardeningError(RuntimeError):
    """Streamlit's internals are not what the patches were written against."""


def media_file_id(session_id: str, data: bytes, mimetype: str, filename: str | None) -> str:
    """A media file's id (64 hex characters): HMAC-SHA256 under this process's random key of
    the session id and the sha256 of the whole content, mimetype and file name."""
    mac = hmac.new(_SECRET, digestmod=hashlib.sha256)
    for part in (session_id.encode(), hashlib.sha256(data).digest(), mimetype.encode(),
                 (filename or "").encode()):
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.hexdigest()


class SessionMediaStorage(MemoryMediaFileStorage):
    """Streamlit's in-memory media storage with session-bound ids, owners and an index by
    session (the running instance's class is swapped to this one: the media route holds it)."""

    _session_by_id: dict[str, str | None]
    _ids_by_session: dict[str, set[str]]

    def adopt(self) -> None:
        """Start the index (the files stored before the swap keep no session)."""
        self._session_by_id = dict.fromkeys(self._files_by_id)
        self._ids_by_session = {}

    def load_and_get_id(self, path_or_data: str | bytes, mimetype: str, kind,
                        filename: str | None = None) -> str:
        """Store the file under this session's id for it; return the id."""
        data = self._read_file(path_or_data) if isinstance(path_or_data, str) else path_or_data
        ctx = get_script_run_ctx()
        session_id = ctx.session_id if ctx is not None else None
        file_id = (media_file_id(session_id, data, mimetype, filename) if session_id
                   else secrets.token_hex(32))
        if file_id not in self._files_by_id:
            self._files_by_id[file_id] = MemoryFile(content=data, mimetype=mimetype, kind=kind,
                                                    filename=filename)
            self._session_by_id[file_id] = session_id
            if session_id:
                self._ids_by_session.setdefault(session_id, set()).add(file_id)
        return file_id

    def delete_file(self, file_id: str) -> None:
        super().delete_file(file_id)
        session_id = self._session_by_id.pop(file_id, None)
        if session_id in self._ids_by_session:
            self._ids_by_session[session_id].discard(file_id)

    def session_file_ids(self, session_id: str) -> set[str]:
        """The ids of the files ``session_id`` stored and that are still held."""
        return set(self._ids_by_session.get(session_id, ()))

    def forget_session(self, session_id: str) -> None:
        self._ids_by_session.pop(session_id, None)

    def owner_client(self, request_path_name: str) -> tuple[bool, bytes | None]:
        """(whether the file exists, its session's browser XSRF token) for a /media name."""
        file_id = os.path.splitext(request_path_name)[0]
        if file_id not in self._files_by_id:
            return False, None
        session_id = self._session_by_id.get(file_id)
        return True, _client_by_session.get(session_id) if session_id else None


def harden() -> None:
    """Install the patches (first call in the process) and note this session's browser.

    Nothing under AppTest: it has no server, no other session, and a mock runtime."""
    if config.get_option("global.appTest"):
        return
    _install_once()
    ctx = get_script_run_ctx()
    if ctx is not None:
        _client_by_session[ctx.session_id] = browser_token(st.context.cookies.get(XSRF_COOKIE_NAME))


def browser_token(xsrf_cookie: str | None) -> bytes | None:
    """The token in an XSRF cookie (its mask changes from response to response, not it)."""
    return decode_xsrf_token_string(xsrf_cookie or "")[0]


def _install_once() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        if st.__version__ != STREAMLIT_VERSION:
            raise HardeningError(f"ui/hardening.py patches Streamlit {STREAMLIT_VERSION} "
                                 f"internals; this is {st.__version__}: check them again")
        instance = runtime.get_instance()
        _install_media_storage(instance)
        _install_session_end(instance)
        _install_clear_cache_refusal()
        _install_http_guard()
        _installed = True


def _media_storage(instance: runtime.Runtime) -> SessionMediaStorage:
    storage = instance.media_file_mgr._storage
    if not isinstance(storage, SessionMediaStorage):
        raise HardeningError("the media storage is not the session-bound one")
    return storage


def _install_media_storage(instance: runtime.Runtime) -> None:
    storage = getattr(instance.media_file_mgr, "_storage", None)
    if type(storage) is not MemoryMediaFileStorage or not hasattr(storage, "_files_by_id"):
        raise HardeningError(f"unexpected media storage {type(storage)!r}")
    storage.__class__ = SessionMediaStorage
    storage.adopt()


def _drop_session_media(instance: runtime.Runtime, session_id: str) -> None:
    """Delete every media file ``session_id`` stored (its ids are bound to it: no other
    session refers to them)."""
    manager = instance.media_file_mgr
    storage = _media_storage(instance)
    with manager._lock:
        for file_id in storage.session_file_ids(session_id):
            storage.delete_file(file_id)
            manager._file_metadata.pop(file_id, None)
        storage.forget_session(session_id)


def _install_session_end(instance: runtime.Runtime) -> None:
    """Session shutdown also deletes its media; expired disconnected sessions are shut down."""
    original_shutdown = AppSession.shutdown

    def shutdown(self: AppSession) -> None:
        original_shutdown(self)
        if runtime.exists():
            _drop_session_media(runtime.get_instance(), self.id)
        _client_by_session.pop(self.id, None)

    AppSession.shutdown = shutdown
    SessionReaper(instance).start()


class SessionReaper:
    """Shuts down disconnected sessions whose reconnection time is over, on the event loop."""

    def __init__(self, instance: runtime.Runtime) -> None:
        self._manager = getattr(instance, "_session_mgr", None)
        storage = getattr(self._manager, "_session_storage", None)
        self._cache = getattr(storage, "_cache", None)
        self._lock = getattr(self._manager, "_storage_lock", None)
        if (not isinstance(storage, MemorySessionStorage) or not isinstance(self._cache, TTLCache)
                or not hasattr(self._cache, "_on_remove") or self._lock is None
                or not hasattr(self._manager, "is_active_session")):
            raise HardeningError("unexpected session storage: cannot reap closed sessions")
        self._loop = instance._get_async_objs().eventloop
        self._instance = instance
        self._free_pending = False

    def start(self) -> None:
        self._cache._on_remove = self._removed
        self._loop.call_soon_threadsafe(self._tick)

    def _tick(self) -> None:
        with self._lock:
            self._cache.expire()
        self._loop.call_later(REAP_INTERVAL_S, self._tick)

    def _removed(self, session_id: str, session_info) -> None:
        """A session left storage: resumed (it is active again) or expired (shut it down)."""
        if not self._manager.is_active_session(session_id):
            self._loop.call_soon_threadsafe(self._shut_down, session_info.session)

    def _shut_down(self, session: AppSession) -> None:
        session.shutdown()
        if not self._free_pending:
            self._free_pending = True
            self._loop.call_later(1.0, self._free_memory)

    def _free_memory(self) -> None:
        self._free_pending = False
        release_flush_loop_locals(self._instance)
        release_memory()


#: The locals of ``Runtime._loop_coroutine`` its session flush loop leaves bound after the loop:
#: the last session flushed (client, AppSession: its session state, uploads, frames) and the
#: last messages sent. They stay until another session is flushed (checked, Streamlit 1.67.0:
#: the only referrer of a shut-down AppSession was that coroutine's frame).
FLUSH_LOOP_LOCALS = ("active_session_info", "msg_list", "msg")


def flush_loop_lines() -> tuple[int, int]:
    """First and last source line of ``Runtime._loop_coroutine``'s loop over active sessions
    (the coroutine suspends inside it at ``await asyncio.sleep(0)``: its locals are live there).
    """
    function = Runtime._loop_coroutine
    code = function.__code__
    if not isinstance(function, types.FunctionType) or not inspect.iscoroutinefunction(function):
        raise HardeningError("Runtime._loop_coroutine is not a coroutine function")
    missing = [name for name in FLUSH_LOOP_LOCALS if name not in code.co_varnames]
    if missing:
        raise HardeningError(f"Runtime._loop_coroutine has no locals {missing}")
    tree = ast.parse(inspect.getsource(inspect.getmodule(function)))
    loops = [node for definition in ast.walk(tree)
             if isinstance(definition, ast.AsyncFunctionDef)
             and definition.name == "_loop_coroutine"
             and definition.lineno <= code.co_firstlineno <= definition.body[0].lineno
             for node in ast.walk(definition) if isinstance(node, ast.For)
             and isinstance(node.target, ast.Name) and node.target.id == FLUSH_LOOP_LOCALS[0]]
    if len(loops) != 1:
        raise HardeningError("Runtime._loop_coroutine has no single loop over active sessions")
    return loops[0].lineno, loops[0].end_lineno


def _set_frame_locals(frame: types.FrameType, values: dict[str, Any]) -> None:
    """Rebind locals of a suspended frame (CPython: 3.11-3.12 through PyFrame_LocalsToFast,
    3.13+ through the write-through ``f_locals``)."""
    if sys.version_info >= (3, 13):
        for name, value in values.items():
            frame.f_locals[name] = value
        return
    snapshot = frame.f_locals
    snapshot.update(values)
    ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))


def release_flush_loop_locals(instance: Runtime) -> bool:
    """Unbind what the suspended message loop still holds of the last session it flushed (on
    the event loop's thread, while the coroutine waits). False when there is nothing to do now:
    the loop is stopped, or suspended inside the flush loop (its variable is then a live
    session's; it rebinds it before it is read again)."""
    task = getattr(instance, "_loop_coroutine_task", None)
    if task is None or task.done():
        return False
    coroutine = task.get_coro()
    if getattr(coroutine, "cr_code", None) is not Runtime._loop_coroutine.__code__:
        raise HardeningError("the runtime's loop task does not run Runtime._loop_coroutine")
    frame = coroutine.cr_frame
    first, last = flush_loop_lines()
    if frame is None or coroutine.cr_running or first <= frame.f_lineno <= last:
        return False
    _set_frame_locals(frame, dict.fromkeys(FLUSH_LOOP_LOCALS))
    return True


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc's malloc_trim)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _refuse_clear_cache(self: AppSession) -> None:
    """The browser's "Clear cache" would empty every user's caches: refused."""
    _LOGGER.warning("Refused a client's clear_cache request (caches are shared by all users)")


def _install_clear_cache_refusal() -> None:
    if not callable(getattr(AppSession, "_handle_clear_cache_request", None)):
        raise HardeningError("AppSession has no _handle_clear_cache_request to replace")
    if not config.get_option("global.developmentMode"):
        AppSession._handle_clear_cache_request = _refuse_clear_cache


def _app_path(path: str) -> str:
    """The request path without ``server.baseUrlPath``."""
    base = "/" + (config.get_option("server.baseUrlPath") or "").strip("/")
    if base == "/" or not (path == base or path.startswith(base + "/")):
        return path
    return path[len(base):] or "/"


def _refusal(scope: Scope, request: Headers) -> PlainTextResponse | None:
    """The answer that replaces Streamlit's for this request, if it must be refused."""
    if not is_host_allowed(request.get("host")):
        return PlainTextResponse("Host not allowed", status_code=403)
    path = _app_path(scope["path"])
    if path.rstrip("/") == METRICS_PATH:
        return PlainTextResponse("Not Found", status_code=404)
    if path.startswith(MEDIA_PREFIX) and runtime.exists():
        exists, owner = _media_storage(runtime.get_instance()).owner_client(
            path[len(MEDIA_PREFIX):])
        client = browser_token(_request_cookie(request, XSRF_COOKIE_NAME))
        if exists and owner is not None and not hmac.compare_digest(owner, client or b""):
            return PlainTextResponse("Not Found", status_code=404)
    return None


def _request_cookie(request: Headers, name: str) -> str | None:
    for header in request.getlist("cookie"):
        for pair in header.split(";"):
            key, _, value = pair.strip().partition("=")
            if key == name:
                return value
    return None


def _send_with_headers(send: Send, scope: Scope) -> Send:
    """``send`` with the security headers."""
    media = _app_path(scope["path"]).startswith(MEDIA_PREFIX)

    async def send_hardened(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            if media:
                headers["Cache-Control"] = "no-store"
        await send(message)

    return send_hardened


def _install_http_guard() -> None:
    """Every HTTP request to Streamlit's Starlette app passes ``_refusal`` and gets the headers
    (the class's ``__call__`` is wrapped: the app and its middleware stack are already built)."""
    original_call = Starlette.__call__
    if getattr(original_call, "__hardened__", False):
        return

    async def hardened_call(self: Starlette, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await original_call(self, scope, receive, send)
            return
        request = Headers(scope=scope)
        send = _send_with_headers(send, scope)
        refusal = _refusal(scope, request)
        if refusal is not None:
            await refusal(scope, receive, send)
        else:
            await original_call(self, scope, receive, send)

    hardened_call.__hardened__ = True
    Starlette.__call__ = hardened_call


def run_through_entry_script() -> None:
    """Rerun through app.py a run that Streamlit's legacy ``pages/`` discovery started: until
    some session has run app.py's ``st.navigation``, ``PagesManager.uses_pages_directory`` is
    True (there is a ``pages/`` folder), and a link to /data ran pages/data.py alone, without
    the sidebar, this hardening and the log scrubber (checked, Streamlit 1.67.0). Call first in
    app.py and in every page; a no-op once navigation is set."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory or _started_by_legacy_discovery():
        PagesManager.uses_pages_directory = False
        st.rerun()


def _started_by_legacy_discovery() -> bool:
    """True when this run was started by Streamlit's legacy page runner (``_mpa_v1`` on the
    call stack): another session's first run may have switched the flag off after this run
    had already chosen legacy discovery (two links opened at once after a server start)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_mpa_v1":
            return True
        frame = frame.f_back
    return False
