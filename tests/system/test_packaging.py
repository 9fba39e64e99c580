"""The wheel carries the packaged SQL and contracts and registers the provider: built, installed fresh, and run."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from airflow_source_simulator.get_provider_info import get_provider_info
from tests.support.sources import REPO


def test_provider_info_is_registered_under_the_distribution_name() -> None:
    (entry,) = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_source")]
    info = entry.load()()
    assert info == get_provider_info()
    assert info["package-name"] == "airflow-source-simulator"


@pytest.mark.slow
def test_the_built_wheel_runs_an_operator_in_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("airflow_source_simulator-*.whl")
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Dependencies come from this environment's site-packages (added as a plain path, so its
    # editable install of this project is not activated); the project itself only from the wheel.
    fresh_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)

    contracts = sorted(p.name.removesuffix(".odcs.yaml") for p in (REPO / "sql" / "contracts" / "odcs").glob("*.yaml"))
    script = textwrap.dedent(
        f"""
        import airflow_source_simulator as sim
        assert sim.__file__.startswith({str(venv)!r}), sim.__file__
        from airflow_source_simulator import packaged
        assert list(packaged.contract_names()) == {contracts!r}, packaged.contract_names()
        for name in packaged.contract_names():
            assert str(packaged.contract_file(name)).startswith({str(venv)!r}), packaged.contract_file(name)
            assert "kind: DataContract" in packaged.contract(name), name
        assert "loaded_at_field: updated_at" in packaged.dbt_sources()
        from airflow.providers_manager import ProvidersManager
        assert "airflow-source-simulator" in ProvidersManager().providers
        from airflow_source_simulator import LoadBaselineOperator, StatusOperator
        LoadBaselineOperator(task_id="load").execute({{}})
        status = StatusOperator(task_id="status", verify=True).execute({{}})
        assert status["verified"] and status["tables"]["jaffle_shop.order_items"] == 1200, status
        print("WHEEL-OK", sim.__version__)
        """
    )
    env = {
        **os.environ,
        "AIRFLOW_CONN_DUCKDB_DEFAULT": f'{{"conn_type": "duckdb", "host": "{tmp_path / "w.duckdb"}"}}',
        "PYTHONPATH": "",
    }
    result = subprocess.run(
        [str(python), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WHEEL-OK 0.1.0" in result.stdout
