"""The references between the tables (schema.REFERENCES): they name real columns and keys, and the
generated rows honour them, although the DDL declares no foreign keys to enforce it."""

from __future__ import annotations

import numpy as np
import pytest

from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.schema import REFERENCES, TABLES, TABLES_BY_NAME, tables_at


def test_every_reference_names_an_existing_column_and_the_target_tables_key() -> None:
    assert len(set(REFERENCES)) == len(REFERENCES) == 7
    order = [t.name for t in TABLES]
    for ref in REFERENCES:
        assert ref.table in TABLES_BY_NAME and ref.target_table in TABLES_BY_NAME, ref
        table, target = TABLES_BY_NAME[ref.table], TABLES_BY_NAME[ref.target_table]
        assert ref.column in table.column_names and ref.column != table.key, ref
        assert ref.target_column == target.key, ref
        # Same type on both sides, and TABLES is in foreign-key order (the referenced table comes first).
        types = {c.name: c.type for c in table.columns}
        assert types[ref.column] == target.columns[0].type, ref
        assert order.index(ref.target_table) < order.index(ref.table), ref
    cross = {
        (r.table, r.column) for r in REFERENCES if TABLES_BY_NAME[r.table].role != TABLES_BY_NAME[r.target_table].role
    }
    assert cross == {("email_activity", "customer_id"), ("web_sessions", "customer_id")}


@pytest.mark.parametrize(("day", "profile"), [(3, "classic"), (0, "classic"), (6, "cdc")])
def test_the_generated_rows_honour_every_reference(day: int, profile: str) -> None:
    state = Generator(day, 1, profile)
    assert {t.name for t in tables_at(profile, day)} >= {r.table for r in REFERENCES}
    checked = 0
    for ref in REFERENCES:
        values = state.table(ref.table)[ref.column]
        keys = state.table(ref.target_table)[ref.target_column]
        checked += len(values)
        dangling = np.unique(values[~np.isin(values, keys)])
        assert dangling.size == 0, f"{ref.table}.{ref.column} -> {ref.target_table}: {dangling[:10].tolist()}"
    assert checked > 1000, "the state has hardly any referencing rows: the check proves little"
