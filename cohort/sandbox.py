"""Parsing an untrusted file in a child process with a memory limit and a timeout.

The server never parses an uploaded file itself: a reader's native abort (a failed allocation
in fastexcel/calamine aborts the whole process) or a parse that eats memory would take every
session down. ``parse_in_child`` runs ``python3 -m cohort.sandbox`` (a new interpreter, not a
fork of the multi-threaded server), which sets its own ``RLIMIT_DATA`` before importing any
reader, parses the bytes given on stdin with ``cohort.parse`` and answers on stdout:
``T`` + the table as Arrow IPC, or ``P`` + the problems as JSON. A killed child, a nonzero exit
or a timeout becomes a problem naming the limit.

Each child parses one file and exits (nothing of one upload stays in a process that reads
another). To hide its start (an interpreter importing polars: ~0.5 s), one child is started
ahead and waits, already limited and imported, for the next file.
"""

from __future__ import annotations

import atexit
import dataclasses
import io
import json
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from cohort.limits import FileProblem, FileProblems, ReadLimits, size_text

if TYPE_CHECKING:
    import polars as pl

ROOT = Path(__file__).resolve().parent.parent
_TABLE, _PROBLEMS = b"T", b"P"
_CHILD_ENVIRONMENT = {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "POLARS_MAX_THREADS"}


#: Files parsed at once by this server (each child may use the memory limit; 2 cores)
PARALLEL_PARSES = 2
_parse_slots = threading.BoundedSemaphore(PARALLEL_PARSES)
_spare: dict[int, subprocess.Popen] = {}  # memory limit -> a started child waiting for a file
_spare_lock = threading.Lock()


def child_environment() -> dict[str, str]:
    """The reading child's environment: only what an interpreter needs (the server's secrets,
    such as sign-in settings, stay out of reach of a reader that a file could subvert), and
    polars' allocator without background threads (under the memory limit they retry forever
    when a thread cannot be created, and the child hangs until the timeout)."""
    env = {name: value for name, value in os.environ.items() if name in _CHILD_ENVIRONMENT}
    return {**env, "_RJEM_MALLOC_CONF": "background_thread:false", "PYTHONPATH": str(ROOT)}


def _start_child(memory_bytes: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cohort.sandbox", str(memory_bytes)], cwd=ROOT,
                            env=child_environment(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _take_child(memory_bytes: int) -> subprocess.Popen:
    """A child limited to ``memory_bytes``: the waiting one if it is alive, else a new one."""
    with _spare_lock:
        child = _spare.pop(memory_bytes, None)
    if child is None or child.poll() is not None:
        child = _start_child(memory_bytes)
    return child


def _keep_spare(memory_bytes: int) -> None:
    """Start the child for the next file (after a parse: its start would slow the parse)."""
    with _spare_lock:
        if memory_bytes not in _spare:
            _spare[memory_bytes] = _start_child(memory_bytes)


@atexit.register
def stop_spares() -> None:
    """Let waiting children end (they exit on an empty request) when the server stops."""
    with _spare_lock:
        for child in _spare.values():
            try:
                child.communicate(b"", timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
        _spare.clear()


def parse_in_child(data: bytes, decimal: str | None, sheet: str | None, limits: ReadLimits
                   ) -> pl.DataFrame | list[FileProblem]:
    """The file's text table parsed in a child process, or the problems found (a limit passed,
    an unreadable file, a child that ran out of memory or time). At most ``PARALLEL_PARSES``
    files are parsed at once; others wait their turn."""
    with _parse_slots:
        parsed = _parse(data, decimal, sheet, limits)
    _keep_spare(limits.memory_bytes)
    return parsed


def _parse(data: bytes, decimal: str | None, sheet: str | None, limits: ReadLimits
           ) -> pl.DataFrame | list[FileProblem]:
    request = json.dumps({"decimal": decimal, "sheet": sheet,
                          "limits": dataclasses.asdict(limits)}).encode()
    child = _take_child(limits.memory_bytes)
    try:
        answer, stderr = child.communicate(request + b"\n" + data, timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        at_memory_limit = _data_bytes(child.pid) >= 0.95 * limits.memory_bytes
        child.kill()
        child.communicate()
        if at_memory_limit:  # a reader's threads can wait forever on an allocation that failed
            return [_memory_problem(limits.memory_bytes)]
        return [FileProblem(f"reading the file took longer than {limits.seconds:g} s, the limit")]
    if child.returncode != 0 or answer[:1] not in (_TABLE, _PROBLEMS):
        return [_failure(child.returncode, stderr, limits)]
    if answer[:1] == _PROBLEMS:
        return [FileProblem(p["message"], tuple(p["rows"]), p["column"])
                for p in json.loads(answer[1:])]
    import polars as pl

    return pl.read_ipc_stream(io.BytesIO(answer[1:]))


def _data_bytes(pid: int) -> int:
    """The process's data segment (what RLIMIT_DATA limits) in bytes; 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next((x for x in status if x.startswith("VmData:")), "VmData: 0 kB")
    except OSError:
        return 0
    return int(line.split()[1]) * 1024


def _memory_problem(memory_bytes: int) -> FileProblem:
    return FileProblem(f"reading the file needs more than {size_text(memory_bytes)} of memory, "
                       f"the limit")


def _failure(returncode: int, stderr: bytes, limits: ReadLimits) -> FileProblem:
    """What a child that ended without an answer means: out of memory (an aborted allocation,
    a kill) or a reader crash. The child's stderr is not shown: it can quote the file."""
    out_of_memory = (returncode in (-signal.SIGABRT, -signal.SIGKILL)
                     or b"memory allocation" in stderr or b"MemoryError" in stderr)
    if out_of_memory:
        return _memory_problem(limits.memory_bytes)
    return FileProblem(f"the file cannot be read as CSV, Parquet or Excel (.xlsx): the reader "
                       f"stopped (exit status {returncode})")


# --------------------------------------------------------------------------- the child


def _answer(kind: bytes, payload: bytes) -> None:
    """Write the answer and exit at once: an interpreter's teardown with polars loaded takes
    0.2-0.4 s, and the server waits for the end of the answer."""
    sys.stdout.buffer.write(kind + payload)
    sys.stdout.buffer.flush()
    os._exit(0)


def _problems_json(problems: list[FileProblem]) -> bytes:
    return json.dumps([{"message": p.message, "rows": list(p.rows), "column": p.column}
                       for p in problems]).encode()


def main(memory_bytes: int) -> None:
    """The child: limit its memory, import the readers, then parse the file that comes on
    stdin (after a line of JSON options) and answer on stdout. An empty request: exit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    try:
        from cohort.parse import cell_problems, parse_table
    except MemoryError:
        cell_problems = parse_table = None
    request, _, data = sys.stdin.buffer.read().partition(b"\n")
    if not request:
        return
    options = json.loads(request)
    limits = ReadLimits(**options["limits"])
    try:
        if parse_table is None:
            raise MemoryError
        table = parse_table(data, options["decimal"], options["sheet"], limits)
        problems = cell_problems(table, limits)
    except FileProblem as problem:
        problems = [problem]
    except FileProblems as found:
        problems = found.problems
    except MemoryError:
        problems = [_memory_problem(cap)]
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # polars/fastexcel panics derive from BaseException
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        problems = [FileProblem(f"the file cannot be read as CSV, Parquet or Excel (.xlsx): "
                                f"{reason}")]
    if problems:
        _answer(_PROBLEMS, _problems_json(problems))
        return
    buffer = io.BytesIO()
    table.write_ipc_stream(buffer)
    _answer(_TABLE, buffer.getvalue())


if __name__ == "__main__":
    main(int(sys.argv[1]))
