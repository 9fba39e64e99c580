"""Packaged SQL per platform and the manifest of every state, rendered by ``airflow_source_simulator.render``."""
