"""The schema diagrams (docs/schema.md, docs/schema.dbml): committed as rendered, complete for every state,
with every reference, and well-formed. The documents are parsed back here, not searched for substrings,
so a missing brace, a column in the wrong table or a Ref to a column that does not exist fails."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airflow_source_simulator import diagrams
from airflow_source_simulator.data.scenario import MAX_DAY, PROFILES, SCHEMA_CHANGE_DAY
from airflow_source_simulator.dialects.duckdb import DUCKDB
from airflow_source_simulator.schema import REFERENCES, TABLES, TABLES_BY_NAME, Column, tables_at

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
STALE = "is stale: run `python -m airflow_source_simulator.diagrams` and commit docs/schema.md and docs/schema.dbml"


# --- the documents, parsed back -------------------------------------------------------------------
@dataclass
class Attribute:
    type: str
    markers: set[str]  # Mermaid: PK/FK; DBML: its settings (pk, null, not null)
    note: str = ""


@dataclass
class Document:
    tables: dict[str, dict[str, Attribute]] = field(default_factory=dict)  # entity or schema.table -> columns
    refs: set[tuple[str, str, str]] = field(default_factory=set)  # (table, column, target table)
    groups: dict[str, list[str]] = field(default_factory=dict)  # DBML TableGroups


def parse_dbml(text: str) -> Document:
    """A strict reader of the DBML subset the module writes; any other line is an error."""
    assert text.count("{") == text.count("}"), "unbalanced braces"
    doc, block = Document(), None
    for number, raw in enumerate(text.splitlines(), 1):
        line, where = raw.split("//", 1)[0].strip(), f"line {number}: {raw!r}"
        if not line:
            continue
        if block is None:
            if start := re.fullmatch(r"(Table|TableGroup) ([\w.]+) \{", line):
                kind, name = block = start[1], start[2]
                assert name not in doc.tables and name not in doc.groups, f"{kind} {name} twice ({where})"
                if kind == "Table":
                    doc.tables[name] = {}
                else:
                    doc.groups[name] = []
            elif ref := re.fullmatch(r"Ref: (\w+\.\w+)\.(\w+) > (\w+\.\w+)\.(\w+)", line):
                source, column, target, target_column = ref.groups()
                assert column in doc.tables.get(source, {}), f"Ref from a column no Table has ({where})"
                target_attr = doc.tables.get(target, {}).get(target_column, Attribute("", set()))
                assert "pk" in target_attr.markers, f"Ref to a column that is not a key ({where})"
                doc.refs.add((source, column, target))
            else:
                raise AssertionError(f"not a Table, TableGroup or Ref ({where})")
        elif line == "}":
            block = None
        elif block[0] == "Table":
            column = re.fullmatch(r"(\w+) ([A-Z]+(?:\(\d+(?:,\d+)?\))?) \[(.+)\]", line)
            assert column, f"not a column ({where})"
            settings = re.findall(r"\s*(note: '[^']*'|[^,]+)", column[3])
            notes = [s[7:-1] for s in settings if s.startswith("note:")]
            markers = {s.strip() for s in settings if not s.startswith("note:")}
            assert column[1] not in doc.tables[block[1]], f"column twice ({where})"
            doc.tables[block[1]][column[1]] = Attribute(column[2], markers, "; ".join(notes))
        else:
            assert re.fullmatch(r"\w+\.\w+", line) and line in doc.tables, f"not a table of this document ({where})"
            doc.groups[block[1]].append(line)
    assert block is None, "a block is not closed"
    return doc


def parse_mermaid(text: str) -> Document:
    """A strict reader of the erDiagram the module writes."""
    lines = text.splitlines()
    assert lines[0] == "erDiagram", "not an erDiagram"
    doc, block = Document(), None
    for number, raw in enumerate(lines[1:], 2):
        line, where = raw.strip(), f"line {number}: {raw!r}"
        if block is None:
            if start := re.fullmatch(r"(\w+) \{", line):
                block = start[1]
                assert block not in doc.tables, f"entity twice ({where})"
                doc.tables[block] = {}
            elif rel := re.fullmatch(r'(\w+) \|\|--o\{ (\w+) : "(\w+)"', line):
                target, source, column = rel.groups()
                assert target in doc.tables and column in doc.tables.get(source, {}), f"unknown entity ({where})"
                doc.refs.add((source, column, target))
            else:
                raise AssertionError(f"not an entity or a relationship ({where})")
        elif line == "}":
            block = None
        else:
            attr = re.fullmatch(r'(\w+) (\w+)((?: (?:PK|FK),?)*)(?: "([^"]*)")?', line)
            assert attr, f"not an attribute ({where})"
            markers = set(re.findall(r"PK|FK", attr[3]))
            doc.tables[block][attr[2]] = Attribute(attr[1], markers, attr[4] or "")
    assert block is None, "an entity is not closed"
    return doc


def committed_mermaid() -> str:
    blocks = re.findall(r"```mermaid\n(.*?)```", (DOCS / "schema.md").read_text(), re.DOTALL)
    assert len(blocks) == 1, "docs/schema.md should hold one mermaid block"
    return str(blocks[0])


# --- what the documents should show ----------------------------------------------------------------
def added_columns() -> dict[tuple[str, str], str]:
    """(table, column) of the columns some states have beyond TABLES, with their first state."""
    out: dict[tuple[str, str], str] = {}
    for profile in PROFILES:
        for day in range(MAX_DAY + 1):
            for table in tables_at(profile, day):
                for column in table.columns[len(TABLES_BY_NAME[table.name].columns) :]:
                    out.setdefault((table.name, column.name), f"{profile} profile, from day {day}")
    return out


def every_state_columns() -> set[tuple[tuple[str, tuple[Column, ...]], ...]]:
    """The distinct table layouts over every (profile, day)."""
    return {tuple((t.name, t.columns) for t in tables_at(p, d)) for p in PROFILES for d in range(MAX_DAY + 1)}


def ddl_types() -> dict[tuple[str, str], tuple[str, bool]]:
    """(table, column) -> (type, nullable) from the committed DuckDB DDL, an independent witness of the types."""
    out = {}
    ddl = (REPO / "sql" / "duckdb" / "schema.sql").read_text()
    for table, body in re.findall(r"CREATE TABLE IF NOT EXISTS \{\{ \w+ \}\}\.(\w+) \((.*?)\n\);", ddl, re.DOTALL):
        for name, type_, not_null in re.findall(r"^    (\w+) (.+?)( NOT NULL)?,$", body, re.MULTILINE):
            out[(table, name)] = (type_, not not_null)
    return out


def committed(kind: str) -> Document:
    return parse_mermaid(committed_mermaid()) if kind == "mermaid" else parse_dbml((DOCS / "schema.dbml").read_text())


def entity_of(kind: str) -> dict[str, str]:
    """Table name -> the name the document gives it (Mermaid entity or DBML schema.table)."""
    return {t.name: diagrams.entity(t.name) if kind == "mermaid" else diagrams.qualified(t.name) for t in TABLES}


# --- the tests -------------------------------------------------------------------------------------
def test_the_committed_diagrams_equal_a_fresh_rendering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["diagrams", "--output", str(tmp_path)])
    diagrams.main()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.dbml", "schema.md"]
    for name in ("schema.md", "schema.dbml"):
        committed = DOCS / name
        assert committed.exists(), f"docs/{name} is missing: run `python -m airflow_source_simulator.diagrams`"
        assert committed.read_text() == (tmp_path / name).read_text(), f"docs/{name} {STALE}"
    assert committed_mermaid() == diagrams.mermaid()
    intro = (DOCS / "schema.md").read_text().split("```mermaid")[0]
    assert "python -m airflow_source_simulator.diagrams" in intro and "not edit" in intro


@pytest.mark.parametrize("kind", ["mermaid", "dbml"])
def test_every_table_and_every_column_of_every_state_appears_in_order(kind: str) -> None:
    doc = committed(kind)
    names = entity_of(kind)
    assert set(doc.tables) == set(names.values()), "the tables shown are not the tables"
    states = every_state_columns()
    shown_anywhere = set()
    for state in states:
        for table, columns in state:
            shown = list(doc.tables[names[table]])
            expected = [c.name for c in columns]
            assert [c for c in shown if c in expected] == expected, (kind, table)
            shown_anywhere |= {(table, c) for c in expected}
    assert {(t, c) for t in names for c in doc.tables[names[t]]} == shown_anywhere, "a column of no state is shown"


@pytest.mark.parametrize("kind", ["mermaid", "dbml"])
def test_keys_types_nullability_and_the_schema_change_are_marked(kind: str) -> None:
    doc = committed(kind)
    added, ddl, names = added_columns(), ddl_types(), entity_of(kind)
    assert added == {("customers", "loyalty_tier"): f"cdc profile, from day {SCHEMA_CHANGE_DAY}"}
    columns_of: dict[str, dict[str, Column]] = {t.name: {} for t in TABLES}
    for state in every_state_columns():
        for table_name, columns in state:
            columns_of[table_name].update({c.name: c for c in columns})
    references = {(r.table, r.column) for r in REFERENCES}
    for table in TABLES:
        for column in columns_of[table.name].values():
            where = (kind, table.name, column.name)
            attr = doc.tables[names[table.name]][column.name]
            is_key, label = column.name == table.key, added.get((table.name, column.name))
            assert (label or "") in attr.note and (label is None) == ("profile" not in attr.note), where
            if kind == "mermaid":
                assert attr.type == column.type, where
                is_reference = (table.name, column.name) in references
                assert attr.markers == {m for m, on in (("PK", is_key), ("FK", is_reference)) if on}, where
                assert ("nullable" in attr.note) == column.nullable, where
            else:
                # The DDL's type; a column added later by ALTER TABLE ... ADD COLUMN is nullable.
                type_, nullable = ddl.get((table.name, column.name), (DUCKDB.column_type(column), True))
                assert attr.type == type_ and nullable == column.nullable, where
                assert attr.markers == ({"pk"} if is_key else {"null" if nullable else "not null"}), where


@pytest.mark.parametrize("kind", ["mermaid", "dbml"])
def test_every_reference_appears(kind: str) -> None:
    doc = committed(kind)
    names = entity_of(kind)
    assert doc.refs == {(names[r.table], r.column, names[r.target_table]) for r in REFERENCES}


def test_the_dbml_groups_the_tables_by_schema() -> None:
    doc = parse_dbml((DOCS / "schema.dbml").read_text())
    assert doc.groups == {
        schema: [diagrams.qualified(t.name) for t in TABLES if t.role == role]
        for role, schema in diagrams.SCHEMAS.items()
    }
    assert "Ref: jaffle_crm.email_activity.customer_id > jaffle_shop.customers.customer_id" in diagrams.dbml()


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("deleted_at TIMESTAMP [null]\n}", "deleted_at TIMESTAMP [null]\n", "unbalanced"),
        ("Table jaffle_shop.products {", "Table jaffle_shop.customers {", "twice"),
        ("> jaffle_crm.campaigns.campaign_id", "> jaffle_crm.campaigns.campaign_name", "not a key"),
        ("Ref: jaffle_shop.orders.customer_id", "Ref: jaffle_shop.orders.buyer_id", "no Table"),
        ("  order_date DATE [not null]", "  order_date DATE not null", "not a column"),
    ],
)
def test_the_dbml_reader_rejects_a_broken_document(old: str, new: str, error: str) -> None:
    """A control: the reader the tests above rely on fails on the mistakes it is there to catch."""
    text = diagrams.dbml()
    assert old in text
    with pytest.raises(AssertionError, match=error):
        parse_dbml(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('jaffle_shop_orders : "customer_id"', 'jaffle_shop_orders : "buyer_id"'),
        ("    jaffle_crm_campaigns {", "    jaffle_crm_campaigns"),
        ("int order_id PK", "int order_id PK, XK"),
    ],
)
def test_the_mermaid_reader_rejects_a_broken_diagram(old: str, new: str) -> None:
    text = diagrams.mermaid()
    assert old in text
    with pytest.raises(AssertionError):
        parse_mermaid(text.replace(old, new, 1))
