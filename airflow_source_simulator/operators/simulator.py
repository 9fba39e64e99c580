"""The four operators. Each resolves the platform from its connection and delegates to the simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_source_simulator.assets import SCHEME, source_assets
from airflow_source_simulator.core.arguments import (
    AUTO_DAY,
    NEXT_DAY,
    DaySpec,
    parse_day,
    parse_flag,
    parse_profile,
    parse_scale,
)
from airflow_source_simulator.core.guards import FAST_FORWARD_MEANING, FORCE_MEANING
from airflow_source_simulator.core.ledger import Operation
from airflow_source_simulator.core.names import validate_schema_name
from airflow_source_simulator.data.calendar import simulated_date
from airflow_source_simulator.defaults import CONN_ID, CRM_SCHEMA, PROFILE, SHOP_SCHEMA
from airflow_source_simulator.errors import SimulatorError
from airflow_source_simulator.schema import TABLES
from airflow_source_simulator.sessions.registry import session_for_connection
from airflow_source_simulator.simulator import Simulator

if TYPE_CHECKING:
    from airflow.sdk import Context


# The flags, with what True means (said when a value is refused).
FLAGS = {
    "force": FORCE_MEANING,
    "fast_forward": FAST_FORWARD_MEANING,
    "verify": "True also compares every table with the manifest of the ledger's day",
    "day_partitions": "True gives each asset event the simulated date as its partition key",
}


def day_of_run(logical_date: dt.datetime | None, start_date: dt.datetime | None) -> int | str:
    """The simulated day of a DAG run for ``day="auto"``: the run's place in the schedule, counting the
    start date's run as day 1 (calendar days in the start date's time zone, so DST does not shift it),
    or ``"next"`` (the day after the ledger's) for a run without a logical date."""
    if logical_date is None:
        return NEXT_DAY
    if start_date is None:
        raise SimulatorError(
            "day='auto' counts days from the DAG's start_date, and this task has none: set start_date, or "
            "give the day explicitly."
        )
    zone = start_date.tzinfo or dt.UTC
    day = (logical_date.astimezone(zone).date() - start_date.astimezone(zone).date()).days + 1
    if day < 1:
        raise SimulatorError(
            f"day='auto': the logical date {logical_date.isoformat()} is before the start date "
            f"{start_date.isoformat()}, so it has no simulated day."
        )
    return day


def _plain(value: object) -> bool:
    """A value given as itself, checked when the DAG is parsed. Anything else (a template, a task's output
    as ``XComArg``, a mapped argument) is resolved when the task runs and checked then, with the same messages."""
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    return value is None or isinstance(value, (bool, int, float))


class _SimulatorOperator(BaseOperator):
    """Shared arguments of the simulator's operators.

    :param conn_id: Airflow connection of the source database; its type picks the platform.
        Default ``duckdb_default``. (templated)
    :param shop_schema: schema of the ERP tables. Default ``jaffle_shop``. (templated)
    :param crm_schema: schema of the CRM tables. Default ``jaffle_crm``. (templated)
    """

    template_fields: Sequence[str] = ("conn_id", "shop_schema", "crm_schema")
    ui_color = "#dbeafe"
    writes = False  # lineage: the tables are this task's outputs, or its inputs
    enable_cdc: bool | str = False
    scale: int | str = 1
    profile: str = PROFILE

    def __init__(
        self,
        *,
        conn_id: str = CONN_ID,
        shop_schema: str = SHOP_SCHEMA,
        crm_schema: str = CRM_SCHEMA,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._resolved_later: set[str] = set()  # flags given as templates or task outputs
        for name, value in (("shop_schema", shop_schema), ("crm_schema", crm_schema)):
            if _plain(value):
                validate_schema_name(value, name)
        self.conn_id = conn_id
        self.shop_schema = shop_schema
        self.crm_schema = crm_schema

    def _flag_argument(self, name: str, value: object) -> object:
        """A flag as given: a literal must be a bool (the text "False" is truthy) and is checked now; anything
        resolved when the task runs is checked then, and a template's rendering may be its text."""
        if _plain(value):
            parse_flag(value, name, FLAGS[name])
        else:
            self._resolved_later.add(name)
        return value

    def _flag(self, name: str) -> bool:
        """The flag's value as the task runs."""
        return parse_flag(getattr(self, name), name, FLAGS[name], rendered=name in self._resolved_later)

    def simulator(self, context: Context | None = None) -> Simulator:
        """The simulator of this task's source; kept, so that ``on_kill`` can stop its operation."""
        ti = (context or {}).get("ti")
        run_key = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}" if ti is not None else None
        self._running = Simulator(
            session_for_connection(self.conn_id),
            shop_schema=self.shop_schema,
            crm_schema=self.crm_schema,
            scale=self.scale,
            profile=self.profile,
            enable_cdc=self.enable_cdc,
            log=self.log,
            run_key=run_key,
        )
        return self._running

    def on_kill(self) -> None:
        """Stop the running operation when Airflow stops the task (SIGTERM): the statement running now is
        cancelled (DuckDB's interrupt, PostgreSQL's cancel request, the driver's cancel elsewhere), none
        starts after it, and the database keeps the state it had (the log says which)."""
        running = getattr(self, "_running", None)
        if running is not None:
            self.log.info("Stop requested: cancelling the running operation.")
            running.interrupt()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The source's tables as OpenLineage datasets (outputs of a writing task, inputs of a status), with
        their schema, the state's digest as version, and what the operation wrote: rows (``outputStatistics``)
        and the lifecycle change (CREATE, OVERWRITE, ALTER). Called by the openlineage provider's listener."""
        return self._lineage(complete=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """The datasets without what was written: a failed operation leaves the previous state."""
        return self._lineage(complete=False)

    def _lineage(self, *, complete: bool) -> Any:
        from airflow_source_simulator.lineage import lineage

        running = getattr(self, "_running", None)
        if running is None:  # failed before it reached the source
            from airflow.providers.openlineage.extractors import OperatorLineage

            return OperatorLineage()
        return lineage(running, getattr(self, "_result", None), writing=self.writes, complete=complete)


class _WritingOperator(_SimulatorOperator):
    """An operator that changes the source tables, at a scale, and may switch change capture on for them.

    Its outlets are the eight tables' assets, ``source-simulator://<conn_id>/<schema>/<table>`` (unless
    ``outlets`` is given, or the connection or a schema is templated); each asset event's ``extra``
    holds the operation, the day, whether anything changed, the table's rows and the platform.

    :param scale: every volume multiplied by this whole number (1-100,000; default 1, the classic
        counts). A database keeps the scale it was loaded at: reset to change it. (templated)
    :param profile: the change profile: ``classic`` (the operations guide's changes) or ``cdc`` (also
        hard deletes, keys that come back, two updates to one key in a day, late-arriving rows, and a
        new column on day 5). A database keeps its profile: reset to change it. (templated)

    :param day_partitions: give each asset event the simulated date of the day it leaves the source at as its
        partition key (``"2024-04-01"`` for day 1, ``"2024-03-31"`` for the baseline), for consumers scheduled
        with ``PartitionedAssetTimetable`` (Airflow 3.3 or later). Off by default: Airflow queues a consumer
        scheduled on plain assets only for events without a partition key. (templated)
    :param enable_cdc: switch the platform's change capture on for the eight tables (idempotent):
        ``True`` for the platform's default — a publication on PostgreSQL, Change Tracking on SQL Server /
        Azure SQL, the change data feed on Databricks — or a mechanism by name (``"cdc"`` on SQL Server).
        Loads and resets switch it on after the baseline; a delta before its changes. Refused on DuckDB.
        (templated)
    """

    template_fields: Sequence[str] = (
        *_SimulatorOperator.template_fields,
        "scale",
        "profile",
        "enable_cdc",
        "day_partitions",
    )
    writes = True
    operation: Operation

    def __init__(
        self,
        *,
        scale: int | str = 1,
        profile: str = PROFILE,
        enable_cdc: bool | str = False,
        day_partitions: bool | str = False,
        **kwargs: Any,
    ) -> None:
        source = [
            kwargs.get(k, d)
            for k, d in (("conn_id", CONN_ID), ("shop_schema", SHOP_SCHEMA), ("crm_schema", CRM_SCHEMA))
        ]
        if "outlets" not in kwargs and all(_plain(v) for v in source):
            kwargs["outlets"] = source_assets(*source)
        super().__init__(**kwargs)
        if _plain(profile):
            parse_profile(profile)
        self.profile = profile
        if _plain(enable_cdc) and not isinstance(enable_cdc, (bool, str)):
            raise ValueError(f"enable_cdc={enable_cdc!r} is not valid: give True, False or a mechanism name.")
        if _plain(scale):
            parse_scale(scale)
        self.scale = scale
        self.enable_cdc = enable_cdc
        self.day_partitions = self._flag_argument("day_partitions", day_partitions)

    def execute(self, context: Context) -> dict[str, Any]:
        simulator = self.simulator(context)
        self._result = self._announce(context, simulator, self.change(simulator, context))
        return self._result

    def change(self, simulator: Simulator, context: Context) -> dict[str, Any]:
        """Run this operator's operation; returns the status."""
        raise NotImplementedError

    def _announce(self, context: Context, simulator: Simulator, result: dict[str, Any]) -> dict[str, Any]:
        """Describe the change in the event of each table asset this task updates."""
        events = context.get("outlet_events")
        if events is None:  # executed outside a task run: no asset events to describe
            return result
        rows = {t.name: result["tables"].get(simulator.qualified(t)) for t in TABLES}
        date = simulated_date(result["day"]).isoformat()
        partitioned = self._flag("day_partitions")
        for asset in self.outlets:
            uri = getattr(asset, "uri", "")
            table = uri.rsplit("/", 1)[-1]
            if uri.startswith(f"{SCHEME}://") and table in rows:
                if partitioned:
                    if not hasattr(events[asset], "add_partitions"):
                        raise SimulatorError(
                            "day_partitions=True needs partitioned assets, which Airflow has from 3.3: upgrade "
                            "Airflow, or leave day_partitions off."
                        )
                    events[asset].add_partitions(date)
                events[asset].extra = {
                    "operation": str(self.operation),
                    "day": result["day"],
                    "date": date,
                    "changed": result.get("changed", True),
                    "rows": rows[table],
                    "platform": simulator.session.name,
                    "scale": result["scale"],
                    "profile": result["profile"],
                }
        return result


class _TakeoverOperator(_WritingOperator):
    """An operator that writes the baseline, and so may meet same-named tables it did not create.

    :param force: take over same-named tables the simulator did not create (their rows are replaced).
        (templated)
    """

    template_fields: Sequence[str] = (*_WritingOperator.template_fields, "force")

    def __init__(self, *, force: bool | str = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.force = self._flag_argument("force", force)


class LoadBaselineOperator(_TakeoverOperator):
    """Create the source schemas and tables and load the baseline (day 0). A no-op once loaded.
    Change capture (``enable_cdc``) is switched on after the baseline."""

    operation = Operation.LOAD_BASELINE

    def change(self, simulator: Simulator, context: Context) -> dict[str, Any]:
        return simulator.load_baseline(force=self._flag("force"))


class ApplyDeltaOperator(_WritingOperator):
    """Apply one day's changes: inserts, updates and soft deletes. Re-applying an applied day is a no-op.

    :param day: the day to apply, an integer or an integer string such as ``"{{ params.day }}"``;
        ``"next"`` for the day after the ledger's; or ``"auto"`` for the run's place in the DAG's
        schedule (the run at the start date is day 1, the next day's run day 2, ...; a run without a
        logical date, triggered from the UI or the REST API, applies the day after the ledger's).
        1-3 are the classic days, later ones (up to 3650) are generated. Days are applied in order.
        (templated)
    :param fast_forward: build ``day`` directly when the database is further behind (or empty),
        without replaying the days between; the rows are the same as replaying. (templated)

    Change capture (``enable_cdc``) is switched on before the day's changes, so they are captured.
    """

    template_fields: Sequence[str] = (*_WritingOperator.template_fields, "day", "fast_forward")
    operation = Operation.APPLY_DELTA

    def __init__(self, *, day: DaySpec | str, fast_forward: bool | str = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if _plain(day) and day not in (NEXT_DAY, AUTO_DAY):
            parse_day(day)
        self.day = day
        self.fast_forward = self._flag_argument("fast_forward", fast_forward)

    def change(self, simulator: Simulator, context: Context) -> dict[str, Any]:
        day: object = self.day
        if day == AUTO_DAY:
            day = day_of_run(context.get("logical_date"), self.start_date)
            self.log.info(
                "day='auto': %s",
                "no logical date, so the day after the ledger's"
                if day == NEXT_DAY
                else f"logical date {context['logical_date']} is day {day} of the schedule from {self.start_date}",
            )
        return simulator.apply_delta(day, fast_forward=self._flag("fast_forward"))


class ResetOperator(_TakeoverOperator):
    """Truncate the simulator's eight tables (custom rows included) and reload the baseline. Change
    capture (``enable_cdc``) is switched on after the baseline."""

    operation = Operation.RESET

    def change(self, simulator: Simulator, context: Context) -> dict[str, Any]:
        return simulator.reset(force=self._flag("force"))


class StatusOperator(_SimulatorOperator):
    """Report the ledger's day and the row count of every table. Read-only.

    :param verify: also compare counts, ID ranges and content digests with the packaged manifest of the
        ledger's day, and fail naming every table that differs. (templated)
    """

    template_fields: Sequence[str] = (*_SimulatorOperator.template_fields, "verify")

    def __init__(self, *, verify: bool | str = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verify = self._flag_argument("verify", verify)

    def execute(self, context: Context) -> dict[str, Any]:
        self._result = self.simulator(context).status(verify=self._flag("verify"))
        return self._result
