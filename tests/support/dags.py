"""Reading back what a DAG run under ``dag.test()`` did: its task states and return values."""

from __future__ import annotations

import tempfile
from typing import Any


def return_value(dag_run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key="return_value")
            .one_or_none()
        )
        return None if row is None else row.value


def states(dag_run: Any) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


# What an operator's execute() is given outside a task run: no asset events, no logical date.
NO_CONTEXT: Any = {}


def serialize(dag: Any) -> Any:
    """Write a DAG defined in a test to the metadata database, as the DAG processor would (``dag.test()``
    runs only serialized DAGs); returns it."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=tempfile.mkdtemp())  # an empty folder: only this DAG
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag
