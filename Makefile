# Two commands on a fresh machine:
#   make simulate   the day-by-day simulation on embedded DuckDB, printing the status after each day
#   make test       lint, type checks and the whole test suite
# Both create .venv and install the pinned requirements first.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/example_dags
SOURCE_DB ?= $(CURDIR)/.airflow/simulated_source.duckdb
export AIRFLOW_CONN_DUCKDB_DEFAULT := {"conn_type": "duckdb", "host": "$(SOURCE_DB)"}

.PHONY: simulate test lint typecheck unit integration system reliability databricks e2e bench bench-big render diagrams story clean

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# datacontract-cli pins DuckDB < 1.6, so it lives in its own venv; tests/system/test_datacontract_cli.py runs it there.
DC_VENV := .venv-datacontract
$(DC_VENV)/.installed: requirements-datacontract.txt
	$(PYTHON) -m venv $(DC_VENV)
	$(DC_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-datacontract.txt
	touch $@

# dbt-core pins protobuf < 7, which Airflow's set does not allow: dbt lives in its own venv too;
# tests/system/test_dbt_snapshot.py runs `dbt snapshot` there.
DBT_VENV := .venv-dbt
$(DBT_VENV)/.installed: requirements-dbt.txt
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dbt.txt
	touch $@

# dlt reads the source through duckdb-engine, which needs SQLAlchemy <= 2.0.54 (Airflow's set has 2.1): dlt lives
# in its own venv; tests/system/test_dlt_pipelines.py runs a dlt pipeline there once a simulated day.
DLT_VENV := .venv-dlt
$(DLT_VENV)/.installed: requirements-dlt.txt
	$(PYTHON) -m venv $(DLT_VENV)
	$(DLT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dlt.txt
	touch $@

# DuckDB 1.1, the oldest release that opens the simulator's files, reads a source in
# tests/system/test_duckdb_readers.py, from a venv of its own.
DUCKDB1_VENV := .venv-duckdb1
$(DUCKDB1_VENV)/.installed: requirements-duckdb1.txt
	$(PYTHON) -m venv $(DUCKDB1_VENV)
	$(DUCKDB1_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-duckdb1.txt
	touch $@

# Spark's Thrift server with Delta Lake (the vendored jars need pyspark 4.0.1, .venv has 4.3 for Spark
# generation), the local Databricks of tests/databricks, in a venv of its own. Java 17 runs it.
SPARK_VENV := .venv-spark
$(SPARK_VENV)/.installed: requirements-spark-server.txt
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-spark-server.txt
	touch $@

$(AIRFLOW_HOME)/airflow.db: $(INSTALLED)
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1

simulate: $(AIRFLOW_HOME)/airflow.db
	$(BIN)/airflow dags test source_simulator_classic_days

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

# The tiers of tests/: unit (no database, the fast loop, under a minute), integration (real DuckDB and
# PostgreSQL), system (a real Airflow server, example DAGs under dag.test(), the wheel, external tools),
# reliability (faults, concurrency, bad input). `make test` runs them all, after lint and type checks.
unit: $(INSTALLED)
	$(BIN)/pytest tests/unit

integration: $(INSTALLED)
	$(BIN)/pytest tests/integration

system: $(INSTALLED) $(DC_VENV)/.installed $(DBT_VENV)/.installed $(DLT_VENV)/.installed $(DUCKDB1_VENV)/.installed
	$(BIN)/pytest tests/system

reliability: $(INSTALLED)
	$(BIN)/pytest tests/reliability

# The Databricks tier: one local Spark Thrift server with Delta Lake for the whole run, reached through
# DatabricksSqlHook; its two scenarios run side by side on it (two workers, which the controlling process hands
# the server to: tests/databricks/conftest.py). `make test` runs it beside the other tiers.
DATABRICKS_TIER := $(BIN)/pytest -n 2 tests/databricks
databricks: $(INSTALLED) $(SPARK_VENV)/.installed
	$(DATABRICKS_TIER)

# Mutation testing, not part of `make test`: mutmut (requirements-mutation.txt, on top of .venv) changes the
# oracle and the core's guards one small change at a time and runs the tests that call the changed function
# (tools/mutation.py, docs/testing.md); prints each module's score and the surviving mutants. Niced; a run that
# was stopped resumes where it stopped.
#   make mutation MODULES="core/guards.py core/arguments.py" CHILDREN=2   (default: every module, one at a time)
.PHONY: mutation
MODULES ?=
CHILDREN ?= 1
$(VENV)/.mutation-installed: requirements-mutation.txt $(INSTALLED)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-mutation.txt
	touch $@

mutation: $(VENV)/.mutation-installed
	nice -n 19 $(BIN)/python tools/mutation.py --children $(CHILDREN) $(MODULES)

# Two workers (pytest-xdist): the suite waits on servers and subprocesses as much as it computes. Work
# stealing, because a few tests take half a minute each: dealt out up front, they leave one worker idle
# at the end while the other runs them one after another (8 minutes instead of 6). The Databricks tier runs
# beside them in a pytest of its own (one Spark server, which it waits on as the others wait on theirs);
# its report follows theirs.
TIER_LOG := build/databricks-tier.log
test: lint typecheck $(DC_VENV)/.installed $(DBT_VENV)/.installed $(DLT_VENV)/.installed $(DUCKDB1_VENV)/.installed \
		$(SPARK_VENV)/.installed
	@mkdir -p build
	@{ $(DATABRICKS_TIER) > $(TIER_LOG) 2>&1; echo $$? > $(TIER_LOG).rc; } & \
	$(BIN)/pytest -n 2 --dist worksteal --ignore=tests/databricks; tiers=$$?; wait; \
	echo "--- the Databricks tier (tests/databricks) ---"; cat $(TIER_LOG); \
	test $$tiers -eq 0 && test "$$(cat $(TIER_LOG).rc)" -eq 0

# Only the end-to-end test (`make system` runs it too): a real api-server, scheduler and dag-processor
# run the classic days, triggered over the REST API.
e2e: $(INSTALLED)
	$(BIN)/pytest tests/system/test_airflow_server.py

bench: $(INSTALLED) $(SPARK_VENV)/.installed
	$(BIN)/python benchmarks/classic_simulation.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/spark_generation.py
	$(BIN)/python benchmarks/oracle.py
	$(BIN)/python benchmarks/delta_engine.py

# The big run: scale 1000 at day 365 (128 M rows) into DuckDB and PostgreSQL, and on Spark local[2].
# About 20 minutes on two cores and 40 GB of temporary disk; not part of `make bench`.
bench-big: $(INSTALLED)
	$(BIN)/python benchmarks/big_run.py

render: $(INSTALLED)
	$(BIN)/python -m airflow_source_simulator.render --output sql

# The schema diagrams (Mermaid in docs/schema.md, DBML in docs/schema.dbml), from schema.py.
diagrams: $(INSTALLED)
	$(BIN)/python -m airflow_source_simulator.diagrams --output docs

# The story of the days (docs/story.svg): rows and each day's changes, days 0-30 of both profiles.
story: $(INSTALLED)
	$(BIN)/python tools/story.py

clean:
	rm -rf $(VENV) $(DC_VENV) $(DBT_VENV) $(DLT_VENV) $(DUCKDB1_VENV) $(SPARK_VENV) $(AIRFLOW_HOME) mutants build dist *.egg-info
