from __future__ import annotations

from airflow_source_simulator.operators.simulator import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    ResetOperator,
    StatusOperator,
)

__all__ = ["ApplyDeltaOperator", "LoadBaselineOperator", "ResetOperator", "StatusOperator"]
