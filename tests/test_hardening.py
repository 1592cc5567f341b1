"""Media ids and the Streamlit internals ui/hardening.py patches (the server-level behaviour is
tested in tests/browser/test_hosting.py)."""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
import weakref
from types import SimpleNamespace

import pytest
import streamlit as st
from starlette.applications import Starlette
from streamlit.runtime import runtime as runtime_module
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.caching.ttl_cache import TTLCache
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.media_file_storage import MediaFileKind, MediaFileStorageError
from streamlit.runtime.memory_media_file_storage import (
    MemoryMediaFileStorage,
    _calculate_file_id,
)
from streamlit.runtime.runtime import Runtime, RuntimeState
from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

from ui import hardening
from ui.hardening import STREAMLIT_VERSION, SessionMediaStorage, media_file_id

MIB = 1_048_576


def near_identical_reports() -> tuple[bytes, bytes]:
    """Two 5 MiB files differing in one byte, outside the head, middle and tail 64 KiB."""
    first = bytearray(b"x" * (5 * MIB))
    second = bytearray(first)
    second[MIB] = ord("y")
    return bytes(first), bytes(second)


def test_streamlits_own_id_confuses_near_identical_files_and_ours_does_not():
    first, second = near_identical_reports()
    assert _calculate_file_id(first, "text/html", "r.html") == _calculate_file_id(
        second, "text/html", "r.html")
    assert media_file_id("s1", first, "text/html", "r.html") != media_file_id(
        "s1", second, "text/html", "r.html")


def test_a_media_id_is_per_session_and_stable_within_one():
    data = b"the same table"
    assert media_file_id("s1", data, "text/csv", "t.csv") == media_file_id(
        "s1", data, "text/csv", "t.csv")
    assert media_file_id("s1", data, "text/csv", "t.csv") != media_file_id(
        "s2", data, "text/csv", "t.csv")
    assert media_file_id("s1", data, "text/csv", "t.csv") != media_file_id(
        "s1", data, "text/csv", "u.csv")
    assert len(media_file_id("s1", data, "text/csv", None)) == 64


@pytest.fixture
def storage(monkeypatch) -> SessionMediaStorage:
    """A real Streamlit media storage, swapped to the session-bound class; the script context
    says which session is adding."""
    store = MemoryMediaFileStorage("/media")
    store.__class__ = SessionMediaStorage
    store.adopt()
    monkeypatch.setattr(hardening, "_client_by_session", {"s1": b"browser-1", "s2": None})
    return store


def add_as(storage: SessionMediaStorage, monkeypatch, session: str, data: bytes) -> str:
    monkeypatch.setattr(hardening, "get_script_run_ctx", lambda: SimpleNamespace(session_id=session))
    return storage.load_and_get_id(data, "text/csv", MediaFileKind.DOWNLOADABLE, "t.csv")


def test_files_are_indexed_by_session_and_carry_their_browser(storage, monkeypatch):
    first = add_as(storage, monkeypatch, "s1", b"a,b\n1,2\n")
    second = add_as(storage, monkeypatch, "s2", b"a,b\n1,2\n")
    assert first != second
    assert storage.session_file_ids("s1") == {first}
    assert storage.owner_client(f"{first}.csv") == (True, b"browser-1")
    assert storage.owner_client(f"{second}.csv") == (True, None)
    assert storage.owner_client("unknown.csv") == (False, None)
    storage.delete_file(first)
    assert storage.session_file_ids("s1") == set()
    with pytest.raises(MediaFileStorageError):
        storage.get_file(f"{first}.csv")
    assert storage.get_file(f"{second}.csv").content == b"a,b\n1,2\n"


def test_the_patched_internals_are_those_of_the_pinned_streamlit():
    """If Streamlit is upgraded, ui/hardening.py must be checked again: this fails first."""
    assert st.__version__ == STREAMLIT_VERSION
    for owner, name in [(AppSession, "_handle_clear_cache_request"), (AppSession, "shutdown"),
                        (MemoryMediaFileStorage, "load_and_get_id"),
                        (MemoryMediaFileStorage, "_read_file"), (TTLCache, "expire"),
                        (TTLCache, "_remove"), (WebsocketSessionManager, "is_active_session"),
                        (MediaFileManager, "_delete_file"), (Starlette, "__call__")]:
        assert callable(getattr(owner, name)), f"{owner.__name__}.{name}"
    assert "_on_remove" in vars(TTLCache(maxsize=1, ttl=1))
    assert {"_files_by_id"} <= set(vars(MemoryMediaFileStorage("/media")))


@pytest.mark.parametrize(("base", "path", "expected"), [
    ("", "/media/x.csv", "/media/x.csv"),
    ("cohorts", "/cohorts/media/x.csv", "/media/x.csv"),
    ("/cohorts/", "/cohorts", "/"),
    ("cohorts", "/_stcore/metrics", "/_stcore/metrics"),
    ("cohorts", "/cohortsx/media/x.csv", "/cohortsx/media/x.csv"),
])
def test_paths_are_read_without_the_base_url(monkeypatch, base, path, expected):
    monkeypatch.setattr(hardening.config, "get_option",
                        lambda name: base if name == "server.baseUrlPath" else None)
    assert hardening._app_path(path) == expected


class FakeSession:
    """What Runtime._loop_coroutine's flush loop touches of a session and its client."""

    def __init__(self) -> None:
        self.upload = bytearray(1_000_000)
        self.flushes = 0

    def flush_browser_queue(self) -> list[str]:
        self.flushes += 1
        return ["a message"] if self.flushes == 1 else []

    def on_flushed_messages_sent(self) -> None:
        pass


def fake_runtime(active: list) -> SimpleNamespace:
    """A stand-in ``self`` for Streamlit's real ``Runtime._loop_coroutine``: one connected
    session whose queue holds one message."""
    loop = asyncio.get_running_loop()
    objs = SimpleNamespace(eventloop=loop, must_stop=asyncio.Event(),
                           has_connection=asyncio.Event(), need_send_data=asyncio.Event(),
                           started=loop.create_future(), stopped=loop.create_future())
    fake = SimpleNamespace(_state=RuntimeState.ONE_OR_MORE_SESSIONS_CONNECTED, _async_objs=objs)
    fake._get_async_objs = lambda: objs
    fake._set_state = lambda state: setattr(fake, "_state", state)
    fake._send_message = lambda info, msg: None
    fake._session_mgr = SimpleNamespace(list_active_sessions=lambda: list(active),
                                        list_sessions=list)
    return fake


def test_streamlits_message_loop_keeps_the_last_flushed_session_until_released():
    async def scenario() -> None:
        info = SimpleNamespace(session=FakeSession(), client=object())
        active = [info]
        fake = fake_runtime(active)
        fake._loop_coroutine_task = asyncio.create_task(Runtime._loop_coroutine(fake))
        while info.session.flushes == 0:
            await asyncio.sleep(0.01)
        session = weakref.ref(info.session)
        active.clear()  # the session disconnects and is shut down
        del info
        await asyncio.sleep(0.05)  # the loop now waits for messages to send
        gc.collect()
        assert session() is not None, "Streamlit no longer keeps the last session: recheck"
        assert hardening.release_flush_loop_locals(fake) is True
        gc.collect()
        assert session() is None
        fake._async_objs.must_stop.set()  # the loop resumes after the release and ends cleanly
        await asyncio.wait_for(fake._loop_coroutine_task, 5)
        assert fake._state == RuntimeState.STOPPED
        assert hardening.release_flush_loop_locals(fake) is False  # a stopped loop: nothing

    run_in_own_thread(scenario)


def test_the_flush_loop_is_found_in_streamlits_source():
    first, last = hardening.flush_loop_lines()
    source = inspect.getsource(runtime_module).splitlines()[first - 1:last]
    assert source[0].strip() == (
        "for active_session_info in self._session_mgr.list_active_sessions():")
    assert any(line.strip() == "await asyncio.sleep(0)" for line in source)


def run_in_own_thread(scenario) -> None:
    """``asyncio.run(scenario())`` in a thread of its own: the browser tests' Playwright keeps an
    event loop running in the main thread of the same pytest process."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as error:  # re-raised in the test's thread
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the scenario did not finish"
    if failures:
        raise failures[0]

