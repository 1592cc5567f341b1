"""A real PostgreSQL server for the tests: Debian's ``postgresql`` started in a temporary
directory on a free loopback port, with a password (the app reads it from Streamlit's secrets,
never from the TOML), stopped and removed afterwards.

The server refuses to run as root, so as root (CI, this machine) initdb and pg_ctl run as the
``postgres`` user in a directory it owns. ``scripts/test.sh`` installs the package where
``/usr/lib/postgresql/*/bin/initdb`` is missing.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

SUPERUSER = "postgres"
DATABASE = "registry"


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where it listens and the password of its superuser."""

    port: int
    password: str
    root: Path

    def secrets(self) -> dict[str, object]:
        """Its ``[connections.<name>]`` secrets table, as a department would write it."""
        return {"dialect": "postgresql", "host": "127.0.0.1", "port": self.port,
                "database": DATABASE, "username": SUPERUSER, "password": self.password}

    def connect(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, dbname=DATABASE,
                               user=SUPERUSER, password=self.password, autocommit=True)


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is missing: apt-get install -y postgresql "
                           "(scripts/test.sh does)")
    return found[-1]


def _as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)


def start_postgres() -> PostgresServer:
    """initdb, start and create the registry database; the caller stops it (``stop``)."""
    root = Path(tempfile.mkdtemp(prefix="oligomet-pg-"))
    password = secrets.token_hex(16)
    (root / "password").write_text(password)
    if os.geteuid() == 0:
        shutil.chown(root, SUPERUSER, SUPERUSER)
        shutil.chown(root / "password", SUPERUSER, SUPERUSER)
    port = free_port()
    data = root / "data"
    _as_postgres(_bin("initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=scram-sha-256",
                 f"--pwfile={root / 'password'}", "--encoding=UTF8", "--no-instructions")
    _as_postgres(_bin("pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
                 "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start")
    server = PostgresServer(port, password, root)
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, dbname="postgres", user=SUPERUSER,
                         password=password, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {DATABASE}")
    return server


def stop(server: PostgresServer) -> None:
    """Stop the server and remove its directory."""
    try:
        _as_postgres(_bin("pg_ctl"), "-D", str(server.root / "data"), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session."""
    server = start_postgres()
    try:
        yield server
    finally:
        stop(server)
