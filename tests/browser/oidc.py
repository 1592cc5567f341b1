"""A real OpenID Connect provider for sign-in tests: ``oidc-provider-mock`` on a free port."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port, wait_until_answers

CLIENT_ID = "oligomet-tests"
CLIENT_SECRET = "not-a-secret-only-for-the-local-test-provider"


@contextmanager
def oidc_provider(users: list[dict[str, object]]) -> Iterator[str]:
    """The provider's issuer URL; ``users`` are predefined identities (each with ``sub`` and
    claims such as ``email`` and ``groups``), any other ``sub`` typed on its form also signs in."""
    port = free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "-p", str(port)]
    for user in users:
        command += ["--user-claims", json.dumps(user)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{issuer}/.well-known/openid-configuration", process,
                           "the OIDC provider")
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=20)


def write_auth_secrets(folder: Path, issuer: str, app_port: int) -> Path:
    """A secrets.toml turning sign-in on against ``issuer`` for an app on ``app_port``."""
    path = folder / "secrets.toml"
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-of-enough-length-0123456789"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n',
        encoding="utf-8")
    return path
