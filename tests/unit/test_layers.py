"""The layers: the core and the build tools import nothing of Airflow; only the Airflow layer does."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import airflow_source_simulator

# The sessions run plans through Airflow's hooks and the Airflow layer is Airflow itself; all else is core.
NOT_CORE = ("operators", "hooks", "assets", "sessions", "simulator", "readback", "oracle.verify", "sql")


def core_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(airflow_source_simulator.__path__, "airflow_source_simulator."):
        relative = module.name.removeprefix("airflow_source_simulator.")
        if relative != "oracle" and not any(relative == n or relative.startswith(n + ".") for n in NOT_CORE):
            names.append(module.name)
    return names


def airflow_modules_after(*imports: str) -> list[str]:
    """The ``airflow`` modules loaded in a fresh interpreter once ``imports`` (statements) have run."""
    script = "\n".join(
        [
            "import json, sys",
            *imports,
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')))",
        ]
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return list(json.loads(result.stdout))


def test_the_core_and_the_build_tools_import_nothing_of_airflow() -> None:
    modules = core_modules()
    build = {
        "airflow_source_simulator.render",
        "airflow_source_simulator.diagrams",
        "airflow_source_simulator.contracts.odcs",
    }
    assert build <= set(modules)
    assert "airflow_source_simulator.core.plans" in modules and "airflow_source_simulator.dialects.mssql" in modules
    assert airflow_modules_after(*(f"import {name}" for name in modules)) == []


def test_the_package_root_and_its_provider_info_import_nothing_of_airflow() -> None:
    imports = (
        "import airflow_source_simulator",
        "from airflow_source_simulator.get_provider_info import get_provider_info",
        "get_provider_info()",
    )
    assert airflow_modules_after(*imports) == []


def test_the_airflow_layer_is_what_imports_airflow() -> None:
    """A control for the two tests above: the same check sees Airflow where it is used."""
    assert "airflow.sdk" in airflow_modules_after("import airflow_source_simulator.operators")
