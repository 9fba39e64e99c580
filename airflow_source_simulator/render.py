"""Render the packaged SQL, the manifest and the consumer contracts from the generator and the schema.

    python -m airflow_source_simulator.render --output sql

The committed files under ``sql/`` are this command's output; a test renders afresh and compares.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from airflow_source_simulator import contracts, packaged
from airflow_source_simulator.core.statements import PLACEHOLDERS, Action, Rows, Statement, Step, format_file
from airflow_source_simulator.data.canonical import canonical_rows, digest, state_digest
from airflow_source_simulator.data.delta import day_delta, late_keys
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.data.scenario import CLASSIC, CLASSIC_DAYS, PROFILES
from airflow_source_simulator.dialects import DIALECTS, Dialect
from airflow_source_simulator.schema import LEDGER, LEDGER_TABLE, TABLES, TABLES_BY_NAME, Table, tables_at
from airflow_source_simulator.version import __version__

SCALE = 1


def table_ref(table: Table) -> str:
    return f"{PLACEHOLDERS[table.role]}.{table.name}"


def schema_statements(dialect: Dialect) -> list[Statement]:
    """Schemas, then the ledger, then the tables: tables without a ledger beside them are never ours,
    even where DDL is not transactional and a first load stopped half-way."""
    out = [Statement(dialect.create_schema(PLACEHOLDERS[r]), Step(Action.CREATE_SCHEMA, r)) for r in ("shop", "crm")]
    out.append(
        Statement(dialect.create_table(table_ref(LEDGER), LEDGER.columns), Step(Action.CREATE_TABLE, LEDGER_TABLE))
    )
    out += [Statement(dialect.create_table(table_ref(t), t.columns), Step(Action.CREATE_TABLE, t.name)) for t in TABLES]
    return out


def truncate_statements(dialect: Dialect) -> list[Statement]:
    return [Statement(dialect.delete_all(table_ref(t)), Step(Action.DELETE, t.name)) for t in reversed(TABLES)]


def baseline_statements(dialect: Dialect, state: Generator) -> list[Statement]:
    rows = [Rows(Action.LOAD, t, table_ref(t), state.table(t.name)) for t in TABLES]
    return dialect.statements([r for r in rows if len(r)])


def delta_statements(dialect: Dialect, day: int, before: Generator, after: Generator) -> list[Statement]:
    rows: list[Rows] = []
    for table, change in zip(TABLES, day_delta(day, SCALE, before, after).values(), strict=True):
        rows.append(Rows(Action.INSERT, table, table_ref(table), change.inserted))
        rows.append(Rows(Action.UPDATE, table, table_ref(table), change.updated, change.soft_deleted))
    return dialect.statements([r for r in rows if len(r)])


def manifest(states: list[Generator]) -> dict:
    out: dict = {"scenario": CLASSIC, "scale": SCALE, "states": {}}
    for state in states:
        tables = {}
        for table in TABLES:
            columns = state.table(table.name)
            keys = columns[table.key]
            tables[table.name] = {
                "schema": table.role,
                "rows": int(keys.size),
                "active_rows": int((columns["deleted_at"] == -1).sum()),
                "min_id": int(keys.min()) if keys.size else None,
                "max_id": int(keys.max()) if keys.size else None,
                "digest": digest(canonical_rows(table, columns)),
            }
        entry: dict = {"state_digest": state_digest({t: str(v["digest"]) for t, v in tables.items()}), "tables": tables}
        if state.day > 0:
            entry["changes"] = {
                name: {"inserted": d.inserted_rows, "updated": d.updated_rows, "soft_deleted": d.soft_deleted}
                for name, d in day_delta(state.day, SCALE, states[state.day - 1], state).items()
            }
        out["states"][str(state.day)] = entry
    return out


MANIFEST_PROFILE_DAYS = 7  # the expected changes of each profile are listed for days 1-7 at scale 1


def profile_changes() -> dict:
    """Per profile, day and table: the keys each day inserts, updates, soft-deletes and hard-deletes,
    the keys it saves twice, the late keys (inserted with an ``updated_at`` no newer than the table's
    high-water mark at the end of the day before, so a watermark load misses them), and the schema changes
    it makes."""
    out: dict = {}
    for profile in PROFILES:
        days: dict = {}
        for day in range(1, MANIFEST_PROFILE_DAYS + 1):
            tables = {}
            previous = Generator(day - 1, SCALE, profile)
            for name, change in day_delta(day, SCALE, before=previous, profile=profile).items():
                table = TABLES_BY_NAME[name]
                tables[name] = {
                    "late": late_keys(table, previous.table(name), change.inserted).tolist(),
                    "inserted": change.inserted[table.key].tolist(),
                    "updated": change.updated[table.key].tolist(),
                    "soft_deleted": change.soft_deleted_keys.tolist(),
                    "hard_deleted": change.hard_deleted.tolist(),
                    "updated_twice": change.touched[table.key].tolist() if change.touched_rows else [],
                }
            before, after = tables_at(profile, day - 1), tables_at(profile, day)
            added = [
                f"{t.name}.{c.name} {c.type}{f'({c.length})' if c.length else ''} NULL"
                for t_old, t in zip(before, after, strict=True)
                for c in t.columns
                if c not in t_old.columns
            ]
            days[str(day)] = {"tables": tables, "schema_changes": added}
        out[profile] = days
    return out


CONTRACTS_FOLDER = "contracts"
ODCS_FOLDER = f"{CONTRACTS_FOLDER}/odcs"
DBT_SOURCES_FILE = f"{CONTRACTS_FOLDER}/dbt/sources.yml"


def render_contracts(output: Path, version: str = __version__) -> list[Path]:
    """Write the ODCS documents and the dbt sources under ``output``; returns the paths written.

    The per-state manifest is not repeated: the contracts point to ``manifest.json`` beside them.
    """
    if "+unknown" in version:
        # The contracts carry the package version: rendered from a checkout that was never installed,
        # they would carry a made-up one.
        raise RuntimeError(f"the package version is {version}: install the project (pip install -e .) first")
    written = []
    texts = {f"{ODCS_FOLDER}/{name}": text for name, text in contracts.odcs_contracts(version).items()}
    texts[DBT_SOURCES_FILE] = contracts.dbt_sources_yaml(version)
    for relative, text in texts.items():
        path = output / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def render(output: Path) -> list[Path]:
    """Write every packaged file under ``output``; returns the paths written."""
    states = [Generator(day, SCALE) for day in (0, *CLASSIC_DAYS)]
    written = []

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    note = "Generated by `python -m airflow_source_simulator.render`; do not edit (a test compares it with a fresh rendering)."
    for dialect in DIALECTS:
        folder = output / dialect.name

        def header(what: str, dialect: Dialect = dialect) -> list[str]:
            return [note, f"platform: {dialect.name}, scenario: {CLASSIC}, scale: {SCALE}, {what}"]

        write(folder / "schema.sql", format_file(header("schema"), schema_statements(dialect)))
        write(
            folder / "truncate.sql",
            format_file(header("truncate, in reverse key order"), truncate_statements(dialect)),
        )
        write(folder / "baseline.sql", format_file(header("baseline (day 0)"), baseline_statements(dialect, states[0])))
        for day in CLASSIC_DAYS:
            body = delta_statements(dialect, day, states[day - 1], states[day])
            write(folder / packaged.day_file(day), format_file(header(f"delta of day {day}"), body))
    write(output / "manifest.json", json.dumps(manifest(states), indent=2, sort_keys=True) + "\n")
    write(output / "changes.json", json.dumps(profile_changes(), sort_keys=True) + "\n")
    return written + render_contracts(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("sql"), help="folder to write (default: sql)")
    args = parser.parse_args()
    for path in render(args.output):
        print(path)


if __name__ == "__main__":
    main()
