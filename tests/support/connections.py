"""Airflow connections for the tests, given as environment variables (as a deployment would)."""

from __future__ import annotations

import json

import pytest


def connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
    return conn_id


def databricks(monkeypatch: pytest.MonkeyPatch, **extra: object) -> str:
    """A Databricks connection to a loopback port where no workspace answers."""
    return connection(
        monkeypatch,
        "dbx",
        conn_type="databricks",
        host="127.0.0.1",
        password="dapi-secret",
        extra={"http_path": "/sql/1.0/warehouses/abc", **extra},
    )
