"""The generator alone, no database: key ranges join up to whole tables, the inverse ranking, daily change rates, late rows and every day's timestamps."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from airflow_source_simulator import packaged
from airflow_source_simulator.data.calendar import day_start
from airflow_source_simulator.data.cohorts import cohorts
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.data.hashing import permute, unpermute
from airflow_source_simulator.data.scenario import LATE_SHARE
from airflow_source_simulator.schema import tables_at


@pytest.mark.parametrize(
    ("day", "scale", "profile", "step"),
    [
        (0, 1, "classic", 37),
        (3, 1, "classic", 64),
        (6, 3, "cdc", 211),
        (40, 2, "classic", 1000),
        (3, 100, "cdc", 90_000),
    ],
)
def test_tables_generated_in_key_ranges_join_up_to_the_whole_table(
    day: int, scale: int, profile: str, step: int
) -> None:
    whole = Generator(day, scale, profile)
    for table in tables_at(profile, day):
        columns = whole.table(table.name)
        top = int(columns[table.key].max(initial=0)) + 1
        parts = [
            Generator(day, scale, profile, keys=(lo, lo + step)).table(table.name) for lo in range(1, max(top, 2), step)
        ]
        for name, values in columns.items():
            joined = np.concatenate([part[name] for part in parts])
            assert joined.dtype.kind == values.dtype.kind and np.array_equal(joined, values), (table.name, name)


def test_a_range_outside_the_table_is_empty() -> None:
    assert Generator(3, 1, keys=(10_000, 20_000)).table("payments")["payment_id"].size == 0
    assert Generator(3, 1, keys=(10_000, 20_000)).table("order_items")["order_item_id"].size == 0


@pytest.mark.parametrize("n", [2, 3, 8, 100, 4097])
def test_unpermute_inverts_permute(n: int) -> None:
    image = permute(np.arange(n), n, "test")
    assert sorted(image.tolist()) == list(range(n))
    assert np.array_equal(unpermute(image, n, "test"), np.arange(n))


def test_customers_keep_changing_at_about_five_percent_a_day_after_the_classic_days() -> None:
    """Past day 3 each customer's updates are a chain of hashed gaps: the same daily chance as before."""
    updated = eligible = 0
    for day in range(4, 40):
        before = Generator(day - 1, 10)
        active = before.customers["deleted_at"] < 0
        eligible += int(active.sum())
        updated += day_delta(day, 10, before, Generator(day, 10))["customers"].updated_rows
    assert 0.045 < updated / eligible < 0.055


@pytest.mark.parametrize("scale", [1, 3, 20])
def test_late_rows_are_an_exact_share_each_older_than_the_day_befores_high_water_mark(scale: int) -> None:
    for day in range(1, 31):
        watermark = Generator(day - 1, scale, "cdc").table("web_sessions")["updated_at"].max()
        inserted = day_delta(day, scale, profile="cdc")["web_sessions"].inserted
        arrived = int(cohorts("web_sessions", day, scale).size[day])
        chosen = Generator(day, scale, "cdc").table("web_sessions")
        late = inserted["updated_at"] <= watermark
        # Exactly round(10 %) of the day's sessions are late, each older than the day before's newest row...
        assert int(late.sum()) == int(np.floor(arrived * LATE_SHARE + 0.5)), (scale, day)
        # ...and every other row the day inserts (its on-time sessions, restored ones) is newer than it.
        assert (inserted["updated_at"][~late] > watermark).all()
        assert (
            chosen["created_at"][np.isin(chosen["session_id"], inserted["session_id"][late])] < day_start(day)
        ).all()
    # The classic profile has no late rows: each day's rows are created on that day.
    assert all((day_delta(d)["web_sessions"].inserted["created_at"] >= day_start(d)).all() for d in range(1, 8))


def test_changes_json_lists_the_late_keys_of_each_day() -> None:
    changes = packaged.changes()
    for day in range(1, 8):
        watermark = Generator(day - 1, 1, "cdc").table("web_sessions")["updated_at"].max()
        inserted = day_delta(day, profile="cdc")["web_sessions"].inserted
        expected = inserted["session_id"][inserted["updated_at"] <= watermark].tolist()
        assert changes["cdc"][str(day)]["tables"]["web_sessions"]["late"] == expected
        assert len(expected) == 5
        assert all(not t["late"] for t in changes["classic"][str(day)]["tables"].values())


@pytest.mark.parametrize("day", [4, 9, 77, 91, 92])
def test_every_generated_change_carries_its_days_timestamps(day: int) -> None:
    """Inserted rows are created on their day and updated rows stamped with it (wave launches and
    weekly repricing included): a watermark on updated_at sees every change of every day."""
    from airflow_source_simulator.data.calendar import day_start
    from airflow_source_simulator.data.delta import day_delta

    start, end = day_start(day), day_start(day + 1)
    for name, change in day_delta(day).items():
        for ts in (change.inserted["created_at"], change.updated["updated_at"]):
            assert ((ts >= start) & (ts < end)).all(), f"{name} on day {day}"
    assert day_delta(day)["customers"].inserted_rows > 0


_ANY_TABLE_FIRST = """
import numpy as np
from airflow_source_simulator.data import base
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.schema import TABLES

in_order = Generator(3, 200)
whole = {t.name: in_order.table(t.name) for t in TABLES}
assert len(in_order._orders["order_id"]) >= base.PARALLEL_FROM, "the orders must be generated in slices on threads"
for table in TABLES:
    alone = Generator(3, 200).table(table.name)
    assert alone.keys() == whole[table.name].keys(), table.name
    assert all(np.array_equal(alone[c], whole[table.name][c]) for c in alone), table.name
print("ok")
"""


def test_any_table_asked_for_first_is_generated_on_the_threads_and_equals_it_in_order() -> None:
    # In a process of its own, with a time limit: the order items' slices, on the pool's threads, once waited
    # for their orders to be generated on the same, busy pool, and the generation never returned.
    done = subprocess.run(
        [sys.executable, "-c", _ANY_TABLE_FIRST], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
