"""The data contract (DESIGN.md sections 2-3), checked with SQL on a real DuckDB file at every state."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from airflow_source_simulator.sessions.duckdb import DuckDBSession
from airflow_source_simulator.simulator import Simulator

# The operations guide's tables: (rows, first ID, last ID) per table and state.
EXPECTED: dict[int, dict[str, tuple[int, int | None, int | None]]] = {
    0: {
        "customers": (100, 1, 100),
        "products": (20, 1, 20),
        "orders": (500, 1, 500),
        "order_items": (1200, 1, 1200),
        "payments": (0, None, None),
        "campaigns": (5, 1, 5),
        "email_activity": (100, 1, 100),
        "web_sessions": (150, 1, 150),
    },
    1: {
        "customers": (125, 1, 125),
        "products": (20, 1, 20),
        "orders": (560, 1, 560),
        "order_items": (1303, 1, 1303),
        "payments": (272, 1, 272),
        "campaigns": (5, 1, 5),
        "email_activity": (150, 1, 150),
        "web_sessions": (200, 1, 200),
    },
    2: {
        "customers": (147, 1, 147),
        "products": (20, 1, 20),
        "orders": (615, 1, 615),
        "order_items": (1387, 1, 1387),
        "payments": (316, 1, 316),
        "campaigns": (5, 1, 5),
        "email_activity": (200, 1, 200),
        "web_sessions": (250, 1, 250),
    },
    3: {
        "customers": (175, 1, 175),
        "products": (20, 1, 20),
        "orders": (680, 1, 680),
        "order_items": (1502, 1, 1502),
        "payments": (374, 1, 374),
        "campaigns": (5, 1, 5),
        "email_activity": (250, 1, 250),
        "web_sessions": (300, 1, 300),
    },
}
SCHEMA = {
    "customers": "jaffle_shop",
    "products": "jaffle_shop",
    "orders": "jaffle_shop",
    "order_items": "jaffle_shop",
    "payments": "jaffle_shop",
    "campaigns": "jaffle_crm",
    "email_activity": "jaffle_crm",
    "web_sessions": "jaffle_crm",
}
KEYS = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "order_items": "order_item_id",
    "payments": "payment_id",
    "campaigns": "campaign_id",
    "email_activity": "activity_id",
    "web_sessions": "session_id",
}
STATE_END = {0: "2024-04-01", 1: "2024-04-02", 2: "2024-04-03", 3: "2024-04-04"}

# Each query counts the rows that break one rule; every one must return 0 at every state.
INVARIANTS = {
    "order references a missing customer": "SELECT count(*) FROM jaffle_shop.orders o ANTI JOIN jaffle_shop.customers c USING (customer_id)",
    "item references a missing order": "SELECT count(*) FROM jaffle_shop.order_items i ANTI JOIN jaffle_shop.orders o USING (order_id)",
    "item references a missing product": "SELECT count(*) FROM jaffle_shop.order_items i ANTI JOIN jaffle_shop.products p USING (product_id)",
    "payment references a missing order": "SELECT count(*) FROM jaffle_shop.payments p ANTI JOIN jaffle_shop.orders o USING (order_id)",
    "email references a missing campaign": "SELECT count(*) FROM jaffle_crm.email_activity e ANTI JOIN jaffle_crm.campaigns c USING (campaign_id)",
    "email references a missing customer": "SELECT count(*) FROM jaffle_crm.email_activity e ANTI JOIN jaffle_shop.customers c USING (customer_id)",
    "session references a missing customer": "SELECT count(*) FROM jaffle_crm.web_sessions s ANTI JOIN jaffle_shop.customers c USING (customer_id)",
    "active order of a soft-deleted customer": "SELECT count(*) FROM jaffle_shop.orders o JOIN jaffle_shop.customers c USING (customer_id) "
    "WHERE o.deleted_at IS NULL AND c.deleted_at IS NOT NULL",
    "status outside its domain": "SELECT count(*) FROM jaffle_shop.orders WHERE status NOT IN ('pending','shipped','completed','cancelled')",
    "payment method outside its domain": "SELECT count(*) FROM jaffle_shop.payments "
    "WHERE payment_method NOT IN ('credit_card','bank_transfer','paypal','gift_card','coupon')",
    "negative price or amount": "SELECT (SELECT count(*) FROM jaffle_shop.products WHERE price < 0)"
    " + (SELECT count(*) FROM jaffle_shop.order_items WHERE unit_price < 0 OR quantity < 1)"
    " + (SELECT count(*) FROM jaffle_shop.payments WHERE amount < 0)"
    " + (SELECT count(*) FROM jaffle_crm.campaigns WHERE budget < 0)",
    "campaign ends before it starts": "SELECT count(*) FROM jaffle_crm.campaigns WHERE end_date < start_date",
    "session does not end after it starts": "SELECT count(*) FROM jaffle_crm.web_sessions WHERE session_end <= session_start",
    "order created before its customer": "SELECT count(*) FROM jaffle_shop.orders o JOIN jaffle_shop.customers c USING (customer_id) "
    "WHERE o.created_at <= c.created_at",
    "item created before its order": "SELECT count(*) FROM jaffle_shop.order_items i JOIN jaffle_shop.orders o USING (order_id) "
    "WHERE i.created_at <= o.created_at",
    "payment created before its order": "SELECT count(*) FROM jaffle_shop.payments p JOIN jaffle_shop.orders o USING (order_id) "
    "WHERE p.created_at <= o.created_at",
    "order without items": "SELECT count(*) FROM jaffle_shop.orders o ANTI JOIN jaffle_shop.order_items i USING (order_id)",
    "order with more than one payment": "SELECT count(*) FROM (SELECT order_id FROM jaffle_shop.payments GROUP BY order_id HAVING count(*) > 1)",
    "payment amount differs from the order total": "SELECT count(*) FROM jaffle_shop.payments p JOIN (SELECT order_id, sum(quantity * unit_price) AS total "
    "FROM jaffle_shop.order_items GROUP BY order_id) t USING (order_id) WHERE p.amount <> t.total",
    "item priced differently from its product at the time":
    # Prices only change on day 2 at dawn: items ordered since then, and items of never-repriced
    # products, carry the product's current price.
    "SELECT count(*) FROM jaffle_shop.order_items i JOIN jaffle_shop.products p USING (product_id) "
    "JOIN jaffle_shop.orders o USING (order_id) WHERE i.unit_price <> p.price "
    "AND (o.created_at >= TIMESTAMP '2024-04-02' OR p.updated_at = p.created_at)",
    "clicked without opening": "SELECT count(*) FROM jaffle_crm.email_activity WHERE clicked AND NOT opened",
    "email sent outside its campaign": "SELECT count(*) FROM jaffle_crm.email_activity e JOIN jaffle_crm.campaigns c USING (campaign_id) "
    "WHERE CAST(e.sent_date AS DATE) NOT BETWEEN c.start_date AND c.end_date",
    "shipped or completed order without its payment": "SELECT count(*) FROM jaffle_shop.orders o ANTI JOIN jaffle_shop.payments p USING (order_id) "
    "WHERE o.status IN ('shipped', 'completed') AND o.created_at < TIMESTAMP '{end}' "
    "AND (SELECT count(*) FROM jaffle_shop.payments) > 0",
}


def _audit_violations(con: duckdb.DuckDBPyConnection, end: str) -> dict[str, int]:
    out = {}
    for table, schema in SCHEMA.items():
        out[f"{table}: updated_at before created_at"] = con.execute(
            f"SELECT count(*) FROM {schema}.{table} WHERE updated_at < created_at "
            "OR deleted_at < created_at OR deleted_at > updated_at"
        ).fetchall()[0][0]
        out[f"{table}: timestamp after the state's day"] = con.execute(
            f"SELECT count(*) FROM {schema}.{table} WHERE updated_at >= TIMESTAMP '{end}'"
        ).fetchall()[0][0]
    return out


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Copies of one database after the baseline and after each day."""
    folder = tmp_path_factory.mktemp("states")
    live = folder / "live.duckdb"
    simulator = Simulator(DuckDBSession.for_database(str(live)))
    simulator.load_baseline()
    copies = {0: folder / "day0.duckdb"}
    shutil.copy(live, copies[0])
    for day in (1, 2, 3):
        simulator.apply_delta(day)
        copies[day] = folder / f"day{day}.duckdb"
        shutil.copy(live, copies[day])
    return copies


@pytest.mark.parametrize("day", [0, 1, 2, 3])
def test_counts_and_id_ranges_match_the_operations_guide(states: dict[int, Path], day: int) -> None:
    with duckdb.connect(str(states[day]), read_only=True) as con:
        for table, expected in EXPECTED[day].items():
            key = KEYS[table]
            (found,) = con.execute(f"SELECT count(*), min({key}), max({key}) FROM {SCHEMA[table]}.{table}").fetchall()
            assert found == expected, f"{table} at day {day}"


@pytest.mark.parametrize("day", [0, 1, 2, 3])
def test_every_invariant_holds(states: dict[int, Path], day: int) -> None:
    with duckdb.connect(str(states[day]), read_only=True) as con:
        found = {name: con.execute(sql.format(end=STATE_END[day])).fetchall()[0][0] for name, sql in INVARIANTS.items()}
        found |= _audit_violations(con, STATE_END[day])
    assert {name: n for name, n in found.items() if n} == {}


def test_generated_ids_stay_below_the_custom_range(states: dict[int, Path]) -> None:
    with duckdb.connect(str(states[3]), read_only=True) as con:
        highest = max(con.execute(f"SELECT max({KEYS[t]}) FROM {SCHEMA[t]}.{t}").fetchall()[0][0] for t in SCHEMA)
    assert highest < 5000


def _snapshot(path: Path, table: str) -> dict[int, tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {row[0]: row for row in con.execute(f"SELECT * FROM {SCHEMA[table]}.{table}").fetchall()}


@pytest.mark.parametrize("day", [1, 2, 3])
def test_every_change_carries_the_days_updated_at(states: dict[int, Path], day: int) -> None:
    import datetime as dt

    start = dt.datetime(2024, 4, 1) + dt.timedelta(days=day - 1)
    for table in SCHEMA:
        before, after = _snapshot(states[day - 1], table), _snapshot(states[day], table)
        for key, row in after.items():
            if key in before and before[key] != row:
                assert row[-2] >= start, f"{table} {key} changed on day {day} with updated_at {row[-2]}"
            if key not in before:
                assert row[-3] >= start, f"{table} {key} inserted on day {day} with created_at {row[-3]}"
        assert set(before) <= set(after), f"{table} lost rows on day {day}"


ALLOWED = {("pending", "shipped"), ("pending", "cancelled"), ("shipped", "completed"), ("shipped", "cancelled")}


@pytest.mark.parametrize("day", [1, 2, 3])
def test_order_status_only_moves_forward_and_every_update_changes_something(states: dict[int, Path], day: int) -> None:
    before, after = _snapshot(states[day - 1], "orders"), _snapshot(states[day], "orders")
    transitions = set()
    for key, old in before.items():
        new = after[key]
        if new == old:
            continue
        status_changed = old[3] != new[3]
        assert status_changed or old[-1] != new[-1], f"order {key} updated on day {day} without a change"
        if status_changed:
            assert (old[3], new[3]) in ALLOWED, f"order {key}: {old[3]} -> {new[3]} on day {day}"
            transitions.add((old[3], new[3]))
    assert ("pending", "shipped") in transitions and ("shipped", "completed") in transitions


@pytest.mark.parametrize("day", [1, 2, 3])
def test_each_day_soft_deletes_rows_and_updates_customers(states: dict[int, Path], day: int) -> None:
    customers_before, customers_after = _snapshot(states[day - 1], "customers"), _snapshot(states[day], "customers")
    deleted = [
        k
        for k, row in customers_after.items()
        if row[-1] is not None and k in customers_before and customers_before[k][-1] is None
    ]
    changed = [k for k, row in customers_after.items() if k in customers_before and customers_before[k][3] != row[3]]
    assert deleted, f"no customer soft-deleted on day {day}"
    assert changed, f"no customer changed email on day {day}"


def test_day_two_changes_prices_and_later_orders_pay_them(states: dict[int, Path]) -> None:
    before, after = _snapshot(states[1], "products"), _snapshot(states[2], "products")
    repriced = [k for k in before if before[k][3] != after[k][3]]
    assert repriced
    assert all(str(after[k][-2]).startswith("2024-04-02") for k in repriced)


def test_orders_placed_after_the_baseline_get_paid(states: dict[int, Path]) -> None:
    with duckdb.connect(str(states[3]), read_only=True) as con:
        paid_new = con.execute(
            "SELECT count(*) FROM jaffle_shop.payments JOIN jaffle_shop.orders USING (order_id) WHERE order_id > 500"
        ).fetchall()[0][0]
    assert paid_new > 0


# Days past the classic ones, at a scale: the same rules hold (prices change weekly there, so the
# pricing rule is checked against the last change instead).
LATER_STATES = [(2, 8), (2, 95), (1, 200)]


@pytest.mark.parametrize(("scale", "day"), LATER_STATES)
def test_every_invariant_holds_on_later_days_at_scale(tmp_path: Path, scale: int, day: int) -> None:
    import datetime as dt

    from airflow_source_simulator.data.scenario import price_change_days

    path = tmp_path / "later.duckdb"
    Simulator(DuckDBSession.for_database(str(path)), scale=scale).apply_delta(day, fast_forward=True)
    end = (dt.date(2024, 4, 1) + dt.timedelta(days=day)).isoformat()
    last_reprice = (dt.date(2024, 4, 1) + dt.timedelta(days=price_change_days(day)[-1] - 1)).isoformat()
    rules = dict(INVARIANTS)
    rules["item priced differently from its product at the time"] = rules[
        "item priced differently from its product at the time"
    ].replace("TIMESTAMP '2024-04-02'", f"TIMESTAMP '{last_reprice}'")
    with duckdb.connect(str(path), read_only=True) as con:
        found = {name: con.execute(sql.format(end=end)).fetchall()[0][0] for name, sql in rules.items()}
        found |= _audit_violations(con, end)
    assert {name: n for name, n in found.items() if n} == {}
