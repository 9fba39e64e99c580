"""Fixtures of the reliability suite: a source on each transactional engine that can be put back to a state."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.harness import DuckDBSource, PostgresSource, Source

_DATABASES = itertools.count()


@pytest.fixture(params=["duckdb", "postgres"])
def source(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Source]:
    """A fresh, empty source on DuckDB (a file) or PostgreSQL (a database on the private cluster)."""
    if request.param == "duckdb":
        yield DuckDBSource(tmp_path)
        return
    server = request.getfixturevalue("postgres")
    database = PostgresSource(server, f"reliability_{next(_DATABASES)}", monkeypatch)
    yield database
    database.drop()
