"""Regenerating oligomet-demo with the committed generator gives byte-identical Parquet files."""

from __future__ import annotations

from pathlib import Path

from data.build_demo import FILES, write

DATA = Path(__file__).resolve().parent.parent / "data"


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    paths = write(tmp_path)
    for name, filename in FILES.items():
        assert paths[name].read_bytes() == (DATA / filename).read_bytes(), filename
