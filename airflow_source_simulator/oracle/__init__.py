"""The oracle: a pipeline's target checked against the simulated ground truth, with the cause of every miss."""

from __future__ import annotations

from airflow_source_simulator.oracle.report import Report
from airflow_source_simulator.oracle.verify import verify_target

__all__ = ["Report", "verify_target"]
