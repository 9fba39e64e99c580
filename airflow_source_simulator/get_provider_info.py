"""Provider metadata, registered through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_source_simulator.version import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-source-simulator",
        "name": "Source Simulator",
        "description": "Deterministic simulated source databases (jaffle_shop ERP, jaffle_crm CRM) for testing "
        "ingestion: baseline, daily deltas with updates and soft deletes, reset and status.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Source Simulator",
                "external-doc-url": "https://pypi.org/project/airflow-source-simulator/",
                "tags": ["software"],
            }
        ],
        "asset-uris": [
            {
                "schemes": ["source-simulator"],
                "handler": "airflow_source_simulator.assets.sanitize_uri",
            }
        ],
        "operators": [
            {
                "integration-name": "Source Simulator",
                "python-modules": ["airflow_source_simulator.operators.simulator"],
            }
        ],
    }
