"""Several sessions at once on a registry configured on the server, each going through every
screen over Streamlit's protocol (tests/protocol.py): no error, no run left unfinished.

Two defects only concurrency showed: the server deadlocked when Python functions ran inside
polars' thread pool (cohort/elementwise.py), and a configured registry's Toxicity screen
crashed on a yes/no column read as text.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.bench_load import SCREENS, STUDY_FILTER
from bench.hosting import registry_config, running_app
from tests.protocol import ProtocolSession, run_in_own_loop

SESSIONS = 6
#: Seconds any one screen may take (6 sessions on 2 cores: a few seconds each).
STEP_TIMEOUT_S = 120


async def user(base: str, index: int) -> list[str]:
    """One user: every screen once from a different start, the study filter changed halfway;
    the problems seen (exceptions, error notices, unfinished runs, wrong dataset)."""
    problems = []
    titles = list(SCREENS)
    async with ProtocolSession(base, STEP_TIMEOUT_S) as session:
        first = await session.open("", "ds=registry")
        problems += [f"Cohort: {e}" for e in first.exceptions + first.error_notices]
        studies = session.options(STUDY_FILTER)
        for step in range(len(titles)):
            title = titles[(index + step) % len(titles)]
            if step == len(titles) // 2:
                session.choose(STUDY_FILTER, [studies[index % len(studies)]])
            run = await session.open(SCREENS[title])
            problems += [f"{title}: {e}" for e in run.exceptions + run.error_notices]
            if run.status != "finished":
                problems.append(f"{title}: run {run.status}")
            elif title not in run.headings:
                problems.append(f"{title}: no '{title}' heading")
            elif step < len(titles) // 2 and run.metrics.get("Patients in cohort") != "8,598":
                problems.append(f"{title}: not the registry ({run.metrics})")
    return problems


async def users(base: str) -> list[str]:
    found = await asyncio.gather(*(user(base, i) for i in range(SESSIONS)))
    return [problem for problems in found for problem in problems]


def test_sessions_at_once_on_a_configured_registry_open_every_screen_without_error(tmp_path: Path):
    with running_app({"OLIGOMET_CONFIG": str(registry_config(tmp_path, 2))}) as (base, _):
        assert run_in_own_loop(users(base)) == []
