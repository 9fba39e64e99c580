"""OpenLineage for the operators: the source tables an operation wrote (or a status read), named by the
OpenLineage naming spec of their platform, with their schema, the rows written, the lifecycle change and
the simulated state as the dataset version.

OpenLineage is imported only inside these functions, so the provider works without the openlineage
provider installed; Airflow's OpenLineage listener calls the operators' ``get_openlineage_facets_on_*``
methods only where it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_source_simulator.core.ledger import Operation
from airflow_source_simulator.schema import Table, tables_at

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_source_simulator.simulator import Simulator

# The lifecycle change each operation makes to every table it writes; a day makes one only to the tables
# it adds a column to (ALTER).
LIFECYCLE = {Operation.LOAD_BASELINE: "CREATE", Operation.RESET: "OVERWRITE", Operation.FAST_FORWARD: "OVERWRITE"}


def _fields(simulator: Simulator, table: Table) -> list[Any]:
    from airflow.providers.common.compat.openlineage.facet import SchemaDatasetFacetFields

    dialect = simulator.session.dialect
    return [SchemaDatasetFacetFields(name=c.name, type=dialect.column_type(c)) for c in table.columns]


def lineage(simulator: Simulator, result: dict[str, Any] | None, *, writing: bool, complete: bool) -> OperatorLineage:
    """The datasets of one task: the tables of the state it left (outputs of a writing task, inputs of a
    status). Statistics and lifecycle only for what a completed operation wrote: a failed one left the
    previous state."""
    from airflow.providers.common.compat.openlineage.facet import (
        InputDataset,
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    where, database = simulator.session.lineage_namespace()
    day = (result or {}).get("day")
    tables = tables_at(simulator.profile, day if day is not None else 0)
    written = simulator.written if writing and complete else None
    added = {column.split(".", 1)[0] for column in written.columns} if written else set()
    version = (result or {}).get("state_digest") or (
        f"{result['profile']}/scale-{result['scale']}/day-{day}" if result and day is not None else None
    )
    datasets: list[Any] = []
    for table in tables:
        schema = simulator.schemas[table.role]
        name = ".".join(part for part in (database, schema, table.name) if part)
        facets: dict[str, Any] = {"schema": SchemaDatasetFacet(fields=_fields(simulator, table))}
        if version and complete:
            facets["version"] = DatasetVersionDatasetFacet(datasetVersion=version)
        output_facets: dict[str, Any] = {}
        if written is not None and written.operation is not None:
            change = "ALTER" if table.name in added else LIFECYCLE.get(written.operation)
            if change:
                facets["lifecycleStateChange"] = LifecycleStateChangeDatasetFacet(
                    lifecycleStateChange=LifecycleStateChange(change)
                )
            # A load writes every table, the empty ones too (0 rows); a day only the tables it changes.
            if table.name in written.rows or written.operation in LIFECYCLE:
                output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
                    rowCount=written.rows.get(table.name, 0)
                )
        if writing:
            datasets.append(OutputDataset(namespace=where, name=name, facets=facets, outputFacets=output_facets))
        else:
            datasets.append(InputDataset(namespace=where, name=name, facets=facets))
    return OperatorLineage(outputs=datasets) if writing else OperatorLineage(inputs=datasets)
