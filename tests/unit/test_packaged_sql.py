"""The committed SQL, manifest and contracts are exactly what the generator renders today."""

from __future__ import annotations

from pathlib import Path

from airflow_source_simulator.core.statements import parse_file
from airflow_source_simulator.render import render

REPO = Path(__file__).resolve().parents[2]


def test_committed_sql_equals_a_fresh_rendering(tmp_path: Path) -> None:
    written = render(tmp_path)
    assert written, "the renderer wrote nothing"
    for path in written:
        relative = path.relative_to(tmp_path)
        committed = REPO / "sql" / relative
        assert committed.exists(), f"sql/{relative} is not committed: run `make render`"
        assert committed.read_text() == path.read_text(), f"sql/{relative} is stale: run `make render`"
    rendered = {p.relative_to(tmp_path) for p in written}
    on_disk = {
        p.relative_to(REPO / "sql") for p in (REPO / "sql").rglob("*") if p.suffix in (".sql", ".json", ".yaml", ".yml")
    }
    assert on_disk == rendered, "sql/ holds files the renderer no longer writes"


def test_every_statement_is_annotated_and_parses_back(tmp_path: Path) -> None:
    for path in (REPO / "sql" / "duckdb").glob("*.sql"):
        statements = parse_file(path.read_text())
        assert statements, path.name
        for statement in statements:
            assert statement.sql and not statement.sql.endswith(";")
            assert statement.step.action in {"create_schema", "create_table", "insert", "update", "delete"}
