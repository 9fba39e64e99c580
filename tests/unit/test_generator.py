"""The generator alone, no database: key ranges join up to whole tables, the inverse ranking, daily change rates, late rows and every day's timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from airflow_source_simulator.data.calendar import day_start
from airflow_source_simulator.data.delta import day_delta
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.data.hashing import permute, unpermute
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


def test_some_rows_arrive_late_and_a_watermark_would_miss_them() -> None:
    late = 0
    for day in range(1, 8):
        inserted = day_delta(day, profile="cdc")["web_sessions"].inserted
        late += int((inserted["updated_at"] < day_start(day)).sum())
    assert late > 0
    assert all((day_delta(d)["web_sessions"].inserted["created_at"] >= day_start(d)).all() for d in range(1, 8))


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
