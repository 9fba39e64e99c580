"""Deterministic simulated source databases for testing ingestion pipelines, as an Airflow provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_source_simulator.version import __version__

if TYPE_CHECKING:
    from airflow_source_simulator.operators import (
        ApplyDeltaOperator,
        LoadBaselineOperator,
        ResetOperator,
        StatusOperator,
        VerifyTargetOperator,
    )
    from airflow_source_simulator.oracle import verify_target

from airflow_source_simulator.data.calendar import day_of_date, simulated_date

__all__ = [
    "ApplyDeltaOperator",
    "LoadBaselineOperator",
    "ResetOperator",
    "StatusOperator",
    "VerifyTargetOperator",
    "__version__",
    "day_of_date",
    "simulated_date",
    "verify_target",
]


def __getattr__(name: str) -> Any:
    # Operators import Airflow; loaded on first use so the provider-info entry point stays light.
    if name == "verify_target":
        from airflow_source_simulator.oracle import verify_target

        return verify_target
    if name in __all__:
        from airflow_source_simulator import operators

        return getattr(operators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
