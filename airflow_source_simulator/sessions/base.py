"""Running an operation's work on one connection: the hook, the held connection, transactions, bulk paths.

A session wraps the engine's own Airflow hook (``DbApiHook``) and its dialect (the SQL). Callers never
branch on the engine: what differs lives in the engine's session (how to connect, lock and load in bulk)
and dialect (what SQL to run).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from logging import Logger, getLogger
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pyarrow as pa

from airflow_source_simulator.core.statements import Action, Rows, Statement, Step, Stream, Work
from airflow_source_simulator.dialects.base import Dialect
from airflow_source_simulator.errors import SimulatorError, StoppedError

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import Connection

_LOG = getLogger(__name__)
T = TypeVar("T")


def wait_for(
    attempt: Callable[[], T | None],
    *,
    seconds: float,
    poll: float,
    on_wait: Callable[[], None],
    on_timeout: Callable[[float], Exception],
    backoff: float = 1.0,
) -> T:
    """``attempt()`` until it returns something, pausing ``poll`` seconds between tries (multiplied by
    ``backoff`` up to one second): ``on_wait()`` is called once, before the first pause, and the error
    ``on_timeout(waited)`` is raised once ``seconds`` have passed."""
    started = time.monotonic()
    pause, waiting = poll, False
    while True:
        result = attempt()
        if result is not None:
            return result
        waited = time.monotonic() - started
        if waited >= seconds:
            raise on_timeout(waited)
        if not waiting:
            on_wait()
            waiting = True
        time.sleep(pause)
        pause = min(pause * backoff, max(poll, 1.0))


def _single(rows: Rows) -> Stream:
    return Stream(rows.table, lambda: iter((rows,)))


class HeldConnection:
    """A DB-API connection that survives the hook's close() after each run(), for one operation."""

    def __init__(self, conn: Any) -> None:
        object.__setattr__(self, "_conn", conn)

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # DbApiHook.set_autocommit assigns ``conn.autocommit``: it must reach the real connection.
        setattr(self._conn, name, value)


class Session:
    """One engine's way of running work through its hook. Subclasses hold what is engine-specific."""

    dialect: ClassVar[Dialect]
    conn_types: ClassVar[tuple[str, ...]]
    connect_hint: ClassVar[str] = ""  # appended to a connection failure's message
    # How long a writing operation waits for another one on the same source before it gives up.
    lock_wait_seconds: ClassVar[float] = 600.0
    # A bulk path (Arrow, COPY) for generated rows; without one they go as batched statements.
    bulk: ClassVar[bool] = False
    bulk_chunk_rows: ClassVar[int] = 500_000  # rows per bulk statement: the grain of progress lines
    # Loads of at least this many rows go through ``key_after``; below, rebuilding the key costs more.
    key_after_rows: int = 100_000  # an instance may lower it (the reliability suite does)

    def __init__(self, hook: DbApiHook) -> None:
        self.hook = hook
        self.stopping = False  # set by interrupt(): the running operation stops at its next statement
        self._held: Any = None  # the connection hold() holds, for interrupt() to cancel its statement

    @classmethod
    def from_connection(cls, conn_id: str, connection: Connection) -> Session:
        """The session with its hook, after checking the connection can hold a simulated source."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self.dialect.name

    @property
    def title(self) -> str:
        return self.dialect.title

    def lineage_namespace(self) -> tuple[str, str | None]:
        """The OpenLineage namespace of the database and its name (the first part of a table's name), as the
        engine's official hook reports them for its SQL operators: ``postgres://host:port`` and the database,
        ``mssql://host:port`` and the database, ``databricks://host`` and the catalog. Needs the openlineage
        provider, which imports only here."""
        hook: Any = self.hook
        info = hook.get_openlineage_database_info(hook.get_connection(hook.get_conn_id()))
        return f"{info.scheme}://{info.authority}", info.database

    # --- the connection -------------------------------------------------------------------------
    def connect(self, log: Logger, *, read_only: bool = False) -> Any:
        """Open the DB-API connection an operation holds (for reading only if asked and the engine can).
        Sessions turn their engine's failures that a user can act on (a file another process holds) into a
        ``SimulatorError`` here."""
        return self.hook.get_conn()

    @contextmanager
    def hold(self, log: Logger | None = None, *, read_only: bool = False) -> Iterator[None]:
        """Hold one connection for a whole operation (its checks, its transaction, its status); re-entrant.

        Hooks open a connection per run(): a DuckDB file costs ~30 ms to open, a Databricks session
        seconds. Holding one also keeps DuckDB's file lock from the ledger check to the commit.
        """
        if "get_conn" in vars(self.hook):
            yield
            return
        try:
            conn = self.connect(log or _LOG, read_only=read_only)
        except SimulatorError:
            raise
        except Exception as error:
            raise SimulatorError(f"could not connect to {self.title}: {error}{self.connect_hint}") from error
        held = HeldConnection(conn)
        self.hook.get_conn = lambda: held  # type: ignore[method-assign]
        self._held = conn
        try:
            yield
        finally:
            self._held = None
            del self.hook.get_conn
            with suppress(Exception):  # a connection the server or an interrupt already closed
                conn.close()

    # --- stopping -------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Stop the running operation: called from a signal handler or another thread (a task's on_kill).
        The statement running now is cancelled where the engine can, and no further statement starts."""
        self.stopping = True
        conn = self._held
        if conn is not None:
            with suppress(Exception):
                self.cancel(conn)

    def cancel(self, conn: Any) -> None:
        """Cancel the statement running on ``conn`` (the driver's own cancel, where it has one)."""
        cancel = getattr(conn, "cancel", None)
        if callable(cancel):
            cancel()

    def check_stopping(self) -> None:
        if self.stopping:
            raise StoppedError("stopped on request (the task was killed) before the operation finished")

    def fresh_query(self, sql: str) -> list[tuple[Any, ...]]:
        """``sql`` on a connection of its own, not the held one: what is committed, read after a failure
        that may have left the held connection broken or in an aborted transaction."""
        conn = type(self.hook).get_conn(self.hook)
        try:
            cursor = conn.cursor()
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            conn.close()

    def exclusive(self, name: str, log: Logger) -> AbstractContextManager[None]:
        """Keep other writers of the source whose ledger is in schema ``name`` out until the block ends.

        Entered inside ``hold()``, before the ledger is read, so that a second writer waits and then
        reads the ledger the first one wrote (a day already applied is then a logged no-op). Sessions
        with a lock to take override this; where there is none, the ledger's primary key (transactional
        engines) makes the second of two concurrent writers fail instead of applying a day twice.
        """
        return nullcontext()

    # --- running work ---------------------------------------------------------------------------
    def run(
        self,
        work: Sequence[Work],
        on_step: Callable[[Step], None],
        *,
        transaction: bool = True,
        schemas: Sequence[str] = (),
    ) -> None:
        """Run ``work`` (in one transaction if asked and possible), calling ``on_step`` after each statement.
        ``schemas`` are the source's, for sessions that name what blocks them there.

        Generated rows go in bulk where the session has a bulk path, and as batched statements elsewhere.
        """
        self.retrying(lambda: self.run_once(work, on_step, transaction=transaction), schemas)

    def retrying(self, attempt: Callable[[], None], schemas: Sequence[str]) -> None:
        """Run ``attempt``; sessions whose engine gives up waiting for a lock try it again (PostgreSQL)."""
        attempt()

    def run_once(self, work: Sequence[Work], on_step: Callable[[Step], None], *, transaction: bool) -> None:
        self.check_stopping()
        # An engine without multi-statement transactions runs every statement on its own (autocommit).
        transaction = transaction and self.dialect.transactional
        if self.bulk and any(isinstance(w, Rows | Stream) for w in work):
            self.run_bulk(work, on_step, transaction=transaction)
            return
        # Without a bulk path rows go as statements, and a stream's chunks are gathered first: such engines
        # load through VALUES lists, at scales where that is the limit anyway.
        rows = [r for w in work for r in (w.chunks() if isinstance(w, Stream) else [w])]
        statements = self.dialect.statements(rows)
        sql = [s.sql + self.dialect.statement_terminator for s in statements]
        steps: list[tuple[Step, ...]] = [s.steps for s in statements]
        if transaction and self.dialect.begin_sql:
            sql.insert(0, self.dialect.begin_sql)
            steps.insert(0, ())
        if transaction and self.dialect.commit_sql:
            sql.append(self.dialect.commit_sql)
            steps.append(())
        pending = iter(steps)

        def completed(_cursor: Any) -> None:
            done = next(pending)
            if done:  # not after BEGIN or COMMIT: a stop after the commit changes nothing
                self.check_stopping()
                for step in done:
                    on_step(step)

        self.hook.run(sql, autocommit=not transaction, handler=completed)

    def run_bulk(self, work: Sequence[Work], on_step: Callable[[Step], None], *, transaction: bool) -> None:
        """Run statements and bulk row loads on the held connection, through the driver's own bulk API."""
        with self.bulk_cursor(transaction) as cursor:
            for item in work:
                self.check_stopping()
                if isinstance(item, Statement):
                    cursor.execute(item.sql)
                    for step in item.steps:
                        on_step(step)
                else:
                    self._load_stream(cursor, item if isinstance(item, Stream) else _single(item), on_step)

    def _load(self, cursor: Any, rows: Rows) -> Iterator[Step]:
        """Load ``rows`` in pieces of ``bulk_chunk_rows``, yielding the step of each piece once it is in."""
        for columns, step in self.dialect.chunks(rows, self.bulk_chunk_rows):
            self.check_stopping()
            if rows.action == Action.DELETE:  # a few keys: a plain statement
                cursor.execute(self.dialect.delete_rows(rows.ref, rows.table, columns[rows.table.key]))
            else:
                self.bulk_rows(cursor, rows, columns)
            yield step

    def _load_stream(self, cursor: Any, stream: Stream, on_step: Callable[[Step], None]) -> None:
        """A stream of one part reports like rows; a longer one reports rows so far after each chunk, and the
        totals at its end (they are known only then). A large load builds the table's key after its rows."""
        totals: dict[Action, int] = {}
        soft: dict[Action, int] = {}
        deferred = False
        with ExitStack() as keys:
            for rows in stream.chunks():
                large = stream.parts > 1 or len(rows) >= self.key_after_rows
                if rows.action == Action.LOAD and large and not deferred:
                    keys.enter_context(self.key_after(cursor, rows))
                    deferred = True
                if stream.parts == 1:
                    for step in self._load(cursor, rows):
                        on_step(step)
                    continue
                for _ in self._load(cursor, rows):
                    pass
                action: Action = Action.INSERT if rows.action == Action.LOAD else rows.action
                totals[action] = totals.get(action, 0) + len(rows)
                soft[action] = soft.get(action, 0) + (rows.soft_deleted or 0)
                on_step(Step(action, stream.table.name, None, None, totals[action]))
        for action, total in totals.items():
            on_step(Step(action, stream.table.name, total, soft[action] or None, total))

    def key_after(self, cursor: Any, rows: Rows) -> AbstractContextManager[None]:
        """Around a large load into ``rows.table``: sessions whose engine builds a primary key faster over
        loaded rows than row by row drop it before and add it back after, in the operation's transaction.
        By default the key is kept."""
        return nullcontext()

    def bulk_cursor(self, transaction: bool) -> AbstractContextManager[Any]:
        """A cursor on the held connection, in a transaction committed on leaving if asked."""
        raise NotImplementedError

    def bulk_rows(self, cursor: Any, rows: Rows, columns: dict[str, Any]) -> None:
        """Load one chunk of ``rows`` through the driver's bulk API."""
        raise NotImplementedError

    # --- reading --------------------------------------------------------------------------------
    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.hook.get_records(sql)]

    def catalog(self, schemas: Sequence[str]) -> dict[tuple[str, str], dict[str, bool]]:
        """Per (schema, table) in ``schemas``: each column (lower case), and whether a row must give it a
        value (NOT NULL without a default)."""
        out: dict[tuple[str, str], dict[str, bool]] = {}
        for schema, table, column, nullable, default in self.query(self.dialect.catalog_query(schemas)):
            required = str(nullable).upper() == "NO" and default is None
            out.setdefault((str(schema), str(table)), {})[str(column).lower()] = required
        return out

    def table_columns(self, schemas: Sequence[str]) -> dict[tuple[str, str], list[str]]:
        """Per (schema, table) in ``schemas`` (each as given and lower-cased, as an engine folds an unquoted
        name): its columns as the catalog spells them, to be quoted exactly (a target's names are its own)."""
        out: dict[tuple[str, str], list[str]] = {}
        names = sorted({name for s in schemas for name in (s, s.lower())})
        for schema, table, column, *_ in self.query(self.dialect.catalog_query(names)):
            out.setdefault((str(schema), str(table)), []).append(str(column))
        return out

    def read_arrow(self, sql: str) -> pa.Table:
        """The rows of a query as an Arrow table (column names from the query, types from the driver's values).
        Sessions with a columnar path (DuckDB's Arrow, PostgreSQL's COPY) override this."""
        cursor = self.hook.get_conn().cursor()
        try:
            cursor.execute(sql)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return pa.table({name: pa.array([row[i] for row in rows]) for i, name in enumerate(names)})

    def existing_columns(self, schema: str, table: str) -> set[str]:
        return set(self.catalog([schema]).get((self.dialect.fold(schema), table), {}))

    def cdc_notes(self, mode: str, shop: str) -> list[str]:
        """What the log should tell a user after switching capture on; sessions add what they can check."""
        return self.dialect.cdc_notes(mode, shop)
