"""``python -m airflow_source_simulator``: the command line (see ``airflow_source_simulator.cli``)."""

from airflow_source_simulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
