"""The command line, ``python -m airflow_source_simulator <command>``: the operations and the pipeline oracle
for CI jobs and shells, without an Airflow deployment.

The source (and the oracle's target) is named by an Airflow connection id, read the way Airflow reads it:
``AIRFLOW_CONN_<ID>`` environment variables (JSON or URI) or a configured secrets backend; no metadata
database is needed. Each command prints its result as JSON on stdout (the status, or the oracle's report)
and logs its progress on stderr. Exit status: 0 done; 1 refused or failed, the message on stderr (a target
that differs also prints its report); 2 a bad argument, with the operators' messages.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from airflow_source_simulator.core.arguments import NEXT_DAY, parse_day, parse_profile, parse_scale
from airflow_source_simulator.defaults import CONN_ID, CRM_SCHEMA, PROFILE, SHOP_SCHEMA
from airflow_source_simulator.errors import ArgumentError, SimulatorError, TargetMismatchError
from airflow_source_simulator.version import __version__

PROG = "python -m airflow_source_simulator"
_LOG = logging.getLogger("airflow_source_simulator.cli")
# Options every command takes, before or after its name; their defaults are filled in after parsing, so
# that a value given before the command is not overwritten by the command's default.
_COMMON_DEFAULTS: dict[str, Any] = {
    "conn_id": CONN_ID,
    "shop_schema": SHOP_SCHEMA,
    "crm_schema": CRM_SCHEMA,
    "scale": None,
    "profile": None,
}
# The simulator's remedies name the operators and their keyword arguments; a command-line user reads them in
# the command line's words. Only remedies are translated: "day=0 is not valid" describes the value given.
_CLI_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"ResetOperator\(force=True\)", "the reset command with --force"),
        (r"\bResetOperator\b", "the reset command"),
        (r"\bLoadBaselineOperator\b", "the load command"),
        (r"\bStatusOperator\b", "the status command"),
        (r"\bpass fast_forward=True\b", "give --fast-forward"),
        (r"\bpass force=True\b", "give --force"),
        (r"\(shop_schema / crm_schema\)", "(--shop-schema / --crm-schema)"),
        (r"\b(Give|with) scale=(\d+)", r"\1 --scale \2"),
        (r"\b(Give|with) profile='([\w-]+)'", r"\1 --profile \2"),
        (r"the source \(conn_id\)", "the source (--conn-id)"),
        (r"\bday= \(with scale= and profile=\)", "--day (with --scale and --profile)"),
    )
)
# The hooks log every connection they open and every statement's row count; the simulator logs its steps.
_QUIET_HOOKS = "airflow.task.hooks=WARNING"


def in_cli_words(message: str) -> str:
    """A refusal's remedy in the command line's words (``--fast-forward``, not ``fast_forward=True``)."""
    for pattern, words in _CLI_WORDS:
        message = pattern.sub(words, message)
    return message


def _checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from one of the operators' parsers: a refusal keeps the operators' message, its remedy
    in the command line's words."""

    def check(text: str) -> Any:
        try:
            return parse(text)
        except ArgumentError as error:
            raise argparse.ArgumentTypeError(in_cli_words(str(error))) from None

    check.__name__ = parse.__name__
    return check


def _delta_day(text: str) -> int | str:
    return NEXT_DAY if text.strip() == NEXT_DAY else parse_day(text)


def _state_day(text: str) -> int:
    return parse_day(text, baseline=True)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name.strip(), value.strip()


def _common_options(parser: argparse.ArgumentParser) -> None:
    hidden = argparse.SUPPRESS
    parser.add_argument(
        "--conn-id", default=hidden, help=f"Airflow connection of the source (default {CONN_ID}); AIRFLOW_CONN_<ID>"
    )
    parser.add_argument("--shop-schema", default=hidden, help=f"the ERP schema (default {SHOP_SCHEMA})")
    parser.add_argument("--crm-schema", default=hidden, help=f"the CRM schema (default {CRM_SCHEMA})")
    parser.add_argument(
        "--scale", type=_checked(parse_scale), default=hidden, help="scale factor, 1 to 100,000 (default 1)"
    )
    parser.add_argument(
        "--profile", type=_checked(parse_profile), default=hidden, help=f"change profile (default {PROFILE})"
    )


def _cdc_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--enable-cdc",
        nargs="?",
        const=True,
        default=False,
        metavar="MECHANISM",
        help="switch on the platform's change capture (optionally naming the mechanism)",
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common)
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[common],
        description="Simulated source databases for testing ingestion pipelines: load, apply days, check a target.",
        epilog="Result as JSON on stdout, progress on stderr. Exit 0 done, 1 refused or failed, 2 bad argument.",
    )
    parser.add_argument("--version", action="version", version=f"airflow-source-simulator {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    load = commands.add_parser("load", parents=[common], help="load the baseline (day 0); a no-op once loaded")
    load.add_argument("--force", action="store_true", help="take over same-named tables the simulator did not create")
    _cdc_option(load)

    apply = commands.add_parser("apply", parents=[common], help="apply a day's changes")
    apply.add_argument(
        "--day", required=True, type=_checked(_delta_day), help="the day: 1 to 3650, or 'next' (after the ledger's)"
    )
    apply.add_argument(
        "--fast-forward", action="store_true", help="rebuild a source that is behind at the day, without replaying"
    )
    _cdc_option(apply)

    reset = commands.add_parser("reset", parents=[common], help="reload the baseline into the eight tables")
    reset.add_argument("--force", action="store_true", help="take over same-named tables the simulator did not create")
    _cdc_option(reset)

    status = commands.add_parser("status", parents=[common], help="the ledger's state and the tables' row counts")
    status.add_argument("--verify", action="store_true", help="compare every table with the manifest of its day")

    verify = commands.add_parser(
        "verify-target",
        parents=[common],
        help="check a pipeline's target against the simulated source (the oracle)",
        description="Check what a pipeline wrote against the simulated source's ground truth. The state comes "
        "from the source's ledger (--conn-id), or is given as --day (with --scale and --profile).",
    )
    verify.add_argument("--target-conn-id", required=True, help="Airflow connection of the database the pipeline wrote")
    verify.add_argument(
        "--target-schema",
        required=True,
        action="append",
        metavar="SCHEMA",
        help="the target schema of both source schemas, or each source schema's as SOURCE=TARGET, given twice "
        "(--target-schema jaffle_shop=raw_shop --target-schema jaffle_crm=raw_crm)",
    )
    verify.add_argument("--table-name", default="{table}", help="format string over {schema} and {table}")
    verify.add_argument("--mode", default="replica", help="replica (default) or scd2")
    verify.add_argument(
        "--day", type=_checked(_state_day), help="check against this day instead of the source's ledger"
    )
    verify.add_argument(
        "--ignore-columns", action="append", metavar="PATTERN", help="the loader's own columns (glob; repeatable)"
    )
    verify.add_argument(
        "--column-names",
        action="append",
        type=_pair,
        metavar="SOURCE=TARGET",
        help="the target's name of a source column, by column or table.column (repeatable)",
    )
    verify.add_argument("--deleted-column", help="replica: the loader's column marking a deleted row")
    verify.add_argument("--hard-deletes", help="replica: absent (default) or flagged")
    verify.add_argument("--valid-from-column", default="dbt_valid_from", help="scd2: a version's start")
    verify.add_argument("--valid-to-column", default="dbt_valid_to", help="scd2: a version's end")
    verify.add_argument("--valid-to-current", help="scd2: a current version's valid_to when not NULL (e.g. 9999-12-31)")
    verify.add_argument(
        "--tables", action="append", metavar="TABLE", help="check only this table (table or schema.table; repeatable)"
    )
    verify.add_argument("--sample-size", type=int, default=10, help="keys listed per kind of difference and table")
    return parser


def _operation(args: argparse.Namespace) -> dict[str, Any]:
    from airflow_source_simulator.sessions.registry import session_for_connection
    from airflow_source_simulator.simulator import Simulator

    simulator = Simulator(
        session_for_connection(args.conn_id),
        shop_schema=args.shop_schema,
        crm_schema=args.crm_schema,
        scale=args.scale or 1,
        profile=args.profile or PROFILE,
        enable_cdc=getattr(args, "enable_cdc", False),
        log=_LOG,
    )
    if args.command == "load":
        return simulator.load_baseline(force=args.force)
    if args.command == "apply":
        return simulator.apply_delta(args.day, fast_forward=args.fast_forward)
    if args.command == "reset":
        return simulator.reset(force=args.force)
    return simulator.status(verify=args.verify)


def _target_schema(values: Sequence[str]) -> str | dict[str, str]:
    pairs = [v.partition("=") for v in values]
    if len(values) == 1 and not pairs[0][1]:
        return values[0].strip()
    if any(not sep for _, sep, _ in pairs):
        raise ArgumentError(
            f"--target-schema {' '.join(values)} mixes forms: give one schema (--target-schema raw), or each source "
            "schema's (--target-schema jaffle_shop=raw_shop --target-schema jaffle_crm=raw_crm)."
        )
    schemas: dict[str, str] = {}
    for name, _, value in pairs:
        if name.strip() in schemas:
            raise ArgumentError(f"--target-schema names the source schema {name.strip()!r} twice; name it once.")
        schemas[name.strip()] = value.strip()
    return schemas


def _verify_target(args: argparse.Namespace, given: set[str], out: TextIO) -> dict[str, Any]:
    from airflow_source_simulator.oracle.verify import verify_target

    if args.day is None and given & {"scale", "profile"}:
        raise ArgumentError(
            "--scale and --profile describe the state to check with --day; without --day the source's ledger "
            "gives them."
        )
    report = verify_target(
        target_conn_id=args.target_conn_id,
        target_schema=_target_schema(args.target_schema),
        conn_id=args.conn_id if args.day is None or "conn_id" in given else None,
        day=args.day,
        scale=args.scale,
        profile=args.profile,
        shop_schema=args.shop_schema,
        crm_schema=args.crm_schema,
        sample_size=args.sample_size,
        log=_LOG,
        table_name=args.table_name,
        mode=args.mode,
        ignore_columns=args.ignore_columns,
        column_names=dict(args.column_names or ()),
        deleted_column=args.deleted_column,
        hard_deletes=args.hard_deletes,
        valid_from_column=args.valid_from_column,
        valid_to_column=args.valid_to_column,
        valid_to_current=args.valid_to_current,
        tables=args.tables,
    )
    result = report.to_dict()
    if not report.ok:  # the whole report on stdout for the job's artifacts, the diagnosis as the error
        _write(out, result)
        raise TargetMismatchError(report.failure())
    return result


def _write(out: TextIO, result: dict[str, Any]) -> None:
    out.write(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    out.flush()


@contextmanager
def _results_stdout() -> Iterator[TextIO]:
    """The process's stdout, kept for the JSON result; while the command runs, whatever else writes to file
    descriptor 1 (Airflow's logging writes there) goes to stderr, so that stdout parses as JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with os.fdopen(os.dup(saved), "w", encoding="utf-8") as out:
            yield out
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    given = set(vars(args))
    for name, default in _COMMON_DEFAULTS.items():
        if name not in given:
            setattr(args, name, default)
    os.environ.setdefault("AIRFLOW__LOGGING__NAMESPACE_LEVELS", _QUIET_HOOKS)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    with _results_stdout() as out:
        try:
            result = _verify_target(args, given, out) if args.command == "verify-target" else _operation(args)
        except ArgumentError as error:
            parser.exit(2, f"{PROG} {args.command}: error: {in_cli_words(str(error))}\n")
        except SimulatorError as error:
            print(f"error: {in_cli_words(str(error))}", file=sys.stderr, flush=True)
            return 1
        _write(out, result)
    return 0
