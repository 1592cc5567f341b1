"""Fixtures shared by the tests: a real PostgreSQL server (``tests/pg.py``)."""

from tests.pg import postgres  # noqa: F401  (a fixture, found by name)
