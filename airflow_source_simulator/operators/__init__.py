from __future__ import annotations

from airflow_source_simulator.operators.simulator import (
    ApplyDeltaOperator,
    LoadBaselineOperator,
    ResetOperator,
    StatusOperator,
)
from airflow_source_simulator.operators.verify import VerifyTargetOperator

__all__ = ["ApplyDeltaOperator", "LoadBaselineOperator", "ResetOperator", "StatusOperator", "VerifyTargetOperator"]
