"""Fixtures shared by the tests: a real PostgreSQL server (``tests/pg.py``) and a Spark
session in local mode (``tests/engines.py``)."""

from tests.engines import spark  # noqa: F401  (a fixture, found by name)
from tests.pg import postgres  # noqa: F401  (a fixture, found by name)
