"""The deployment files (Dockerfile, docs/hosting/compose.yaml, nginx.conf) refer to what exists,
and the compose example's database seed and configuration load the registry in the app's reader.

Docker itself is not run here (this machine kind has no Docker engine, only the client): the
image's files are laid out as its COPY lines say, read-only, and its CMD serves every screen from
them; the compose file is read with PyYAML, and its PostgreSQL seed script runs against the
tests' real PostgreSQL server."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from cohort.config import load_config
from cohort.sources import load_configured
from tests.apptest import ROOT

HOSTING = ROOT / "docs" / "hosting"
COMPOSE = HOSTING / "compose.yaml"


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(maxsplit=1)) for line in lines if line and not line.startswith("#")]


def instructions(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


def test_the_image_is_python_3_11_slim_run_by_a_user_other_than_root():
    assert instructions("FROM") == ["python:3.11-slim"]
    [user] = instructions("USER")
    assert user not in {"root", "0"}
    assert any(f"useradd --system --uid 10001 --create-home --home-dir /home/{user} {user}" in run
               for run in instructions("RUN"))
    assert any("pip install -r requirements.txt" in run for run in instructions("RUN"))


def test_every_file_the_image_copies_exists_and_the_app_needs_no_other():
    copied = [shlex.split(args)[:-1] for args in instructions("COPY")]
    sources = [source for sources in copied for source in sources]
    for source in sources:
        assert (ROOT / source).exists(), source
    imported = {path.split("/")[0] for path in sources}
    for package in ("cohort", "ui", "pages", "data", "app.py", ".streamlit"):
        assert package in imported


def test_the_health_check_asks_streamlit_and_the_command_is_the_readmes():
    [health] = instructions("HEALTHCHECK")
    assert "http://127.0.0.1:8501/_stcore/health" in health and "b'ok'" in health
    [command] = instructions("CMD")
    words = json.loads(command)
    assert words[:4] == ["python", "-m", "streamlit", "run"] and "app.py" in words
    assert shlex.join(words) in (ROOT / "README.md").read_text()


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def host_path(spec: str) -> Path:
    return (HOSTING / spec.split(":")[0]).resolve()


def test_compose_has_the_app_postgresql_and_a_provider_and_mounts_only_files_that_exist():
    services = compose()["services"]
    assert set(services) == {"app", "db", "oidc"}
    assert services["db"]["image"].startswith("postgres:")
    assert "oidc_provider_mock" in services["oidc"]["command"]
    assert services["oidc"]["image"] == "python:3.11-slim"
    assert (HOSTING / services["app"]["build"]["context"] / services["app"]["build"]["dockerfile"]
            ).resolve() == ROOT / "Dockerfile"
    for service in services.values():
        for volume in service.get("volumes", []):
            if volume.startswith("."):
                assert host_path(volume).is_file(), volume
    assert "127.0.0.1:8501:8501" in services["app"]["ports"]


def test_the_apps_configuration_in_compose_is_a_valid_mounted_file():
    app = compose()["services"]["app"]
    mounts = {spec.split(":")[1]: host_path(spec) for spec in app["volumes"] if spec.startswith(".")}
    config_file = mounts[app["environment"]["OLIGOMET_CONFIG"]]
    config = load_config(config_file)
    assert config.problems == () and set(config.datasets) == {"registry"}
    assert config.datasets["registry"].patients.is_database
    assert app["environment"]["OLIGOMET_AUDIT_LOG"].startswith("/var/log/oligomet/")
    assert any("/var/log/oligomet" in run for run in instructions("RUN"))


def test_the_secrets_script_writes_every_secret_compose_mounts(tmp_path):
    copy = tmp_path / "compose"
    shutil.copytree(HOSTING / "compose", copy)
    subprocess.run(["sh", str(copy / "make-secrets.sh")], check=True, capture_output=True)
    for secret in compose()["secrets"].values():
        written = tmp_path / Path(secret["file"]).relative_to(".")
        assert written.is_file() and written.stat().st_size > 0, secret["file"]
        assert written.stat().st_mode & 0o077 == 0
    secrets = tomllib.loads((copy / "secrets" / "streamlit_secrets.toml").read_text())
    assert secrets["auth"]["redirect_uri"] == "http://localhost:8501/oauth2callback"
    assert secrets["connections"]["registry"]["password"] == (
        copy / "secrets" / "reader_password").read_text().strip()
    target = compose()["services"]["app"]["secrets"][0]["target"]
    assert target == "/app/.streamlit/secrets.toml"


def test_the_seed_script_builds_the_registry_the_compose_configuration_reads(postgres, tmp_path):
    """initdb.sh as the postgres image runs it, on its own database, then the dataset loaded as
    the app would: through the read-only role, with the compose configuration's reading."""
    database = "compose_demo"
    with postgres.connect() as con:
        con.execute(f"DROP DATABASE IF EXISTS {database}")
        con.execute("DROP ROLE IF EXISTS oligomet_reader")
        con.execute(f"CREATE DATABASE {database}")
    (tmp_path / "reader").write_text("reader-password-for-the-test\n")
    seed = tmp_path / "seed"
    seed.mkdir()
    shutil.copy(HOSTING / "compose" / "registry.sql", seed)
    shutil.copy(HOSTING / "clinic_registry.csv", seed)
    environment = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(postgres.port),
                   "PGPASSWORD": postgres.password, "POSTGRES_USER": "postgres",
                   "POSTGRES_DB": database, "SEED_DIR": str(seed),
                   "READER_PASSWORD_FILE": str(tmp_path / "reader")}
    try:
        subprocess.run(["sh", str(HOSTING / "compose" / "initdb.sh")], env=environment,
                       check=True, capture_output=True, timeout=60)
        config = load_config(HOSTING / "compose" / "oligomet.toml")
        connection = {**postgres.secrets(), "database": database,
                      "username": "oligomet_reader", "password": "reader-password-for-the-test"}
        cohort = load_configured(config.datasets["registry"], lambda name: connection)
        assert cohort.n_patients == 60
        assert {"os_months", "os_event", "pfs_months", "regimen", "age_years"} <= set(
            cohort.patients.columns)
        with pytest.raises(Exception, match="permission denied"):
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=postgres.port, dbname=database,
                                 user="oligomet_reader",
                                 password="reader-password-for-the-test") as reader:
                reader.execute("DELETE FROM oligomet.patients")
    finally:
        with postgres.connect() as con:
            con.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            con.execute("DROP ROLE IF EXISTS oligomet_reader")


def test_nginx_keeps_sessions_sticky_upgrades_the_websocket_and_allows_the_upload_size():
    text = (HOSTING / "nginx.conf").read_text()
    assert re.search(r"^\s*(ip_hash|hash \S+ consistent|sticky )", text, re.M)
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "proxy_http_version 1.1;" in text
    upload_mb = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()
                              )["server"]["maxUploadSize"]
    body_mb = int(re.search(r"client_max_body_size (\d+)m;", text).group(1))
    assert body_mb > upload_mb


def test_the_hosted_config_has_xsrf_cors_an_allow_list_upload_size_and_no_error_details():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    server = config["server"]
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert server["corsAllowedOrigins"] == []
    assert server["maxUploadSize"] == 50
    assert config["client"]["showErrorDetails"] == "none"


def image_tree(root: Path) -> Path:
    """The files the Dockerfile copies, laid out under ``root`` as in the image's WORKDIR, and
    made read-only (the image's user cannot write its code)."""
    [workdir] = instructions("WORKDIR")
    app = root / workdir.lstrip("/")
    app.mkdir(parents=True)
    for args in instructions("COPY"):
        *sources, target = shlex.split(args)
        for source in sources:
            destination = app / target if not target.endswith("/") else app / target / source
            if target in ("./", "."):
                destination = app / Path(source).name
            destination.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, destination, ignore=shutil.ignore_patterns(
                    "__pycache__"))
            else:
                shutil.copy2(ROOT / source, destination)
    for path in [app, *app.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return app


def image_environment(home: Path) -> dict[str, str]:
    """This environment with the image's ENV and a home of its own; no PYTHONPATH (only the
    copied files are importable)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "OLIGOMET_CONFIG"}}
    for assignments in instructions("ENV"):
        env |= dict(item.split("=", 1) for item in shlex.split(assignments))
    return env | {"HOME": str(home)}


def test_the_images_files_alone_serve_every_screen_from_a_read_only_tree(tmp_path):
    """What the image would run, without Docker: its CMD in its copied files only, code
    read-only; every screen opens over Streamlit's protocol without an error."""
    from tests.ports import free_port, wait_until_answers
    from tests.protocol import ProtocolSession, run_in_own_loop

    app = image_tree(tmp_path / "image")
    (tmp_path / "home").mkdir()
    port = free_port()
    words = json.loads(instructions("CMD")[0])
    words[words.index("--server.port") + 1] = str(port)
    words[words.index("--server.address") + 1] = "127.0.0.1"
    process = subprocess.Popen([sys.executable, *words[1:]], cwd=app,
                               env=image_environment(tmp_path / "home"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    async def every_screen() -> list[str]:
        problems = []
        async with ProtocolSession(base, 120) as session:
            await session.open("")
            for path in list(session.pages):
                run = await session.open(path)
                problems += run.exceptions + run.error_notices
                if run.status != "finished" or not run.headings:
                    problems.append(f"/{path}: {run.status}, headings {run.headings}")
        return problems

    try:
        wait_until_answers(f"{base}/_stcore/health", process, "the image's command")
        assert run_in_own_loop(every_screen()) == []
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
        for path in [app, *app.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert b"Traceback" not in errors, errors.decode(errors="replace")[-2000:]
