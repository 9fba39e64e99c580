"""A local stand-in for a Databricks SQL warehouse: Spark's Thrift JDBC/ODBC server with Delta Lake, on loopback.

The server is the HiveServer2 that the pip ``pyspark`` wheel carries (it has the jar but no
``sbin/start-thriftserver.sh``, so ``spark-submit`` starts its class), in HTTP transport as a warehouse speaks,
from ``.venv-spark`` (``requirements-spark-server.txt``: pyspark 4.0.1, which the Delta jars need) with the
Delta Lake jars vendored in ``vendor/delta-lake-4.0.1/``. Everything it writes (tables, its Derby metastore, its
log) stays in one folder the caller gives, and the process is stopped afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-spark"
JARS = REPO / "vendor" / "delta-lake-4.0.1"
HTTP_PATH = "cliservice"
READY_SECONDS = 180.0  # about 20 s on a quiet machine; a CI machine running the other tiers beside it is slower

# Server settings. The time zone must be set on the server: it ignores session settings sent at connect, and the
# simulator writes TIMESTAMP in UTC. The rest fit a few thousand rows on two cores: one shuffle partition
# instead of 200 makes a MERGE of a few rows take a fraction of a second instead of seconds.
CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.databricks.delta.snapshotPartitions": "1",
    "spark.ui.enabled": "false",
    "spark.sql.adaptive.enabled": "false",
}


@dataclass(frozen=True)
class SparkServer:
    """A running server: where its HTTP endpoint is, and the folder it writes in."""

    port: int
    folder: Path

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}/{HTTP_PATH}"


def unavailable() -> str | None:
    """Why the server cannot start here (a skip reason), or None. Only a missing Java is a reason to skip: a
    missing venv or jar is a broken checkout and fails instead."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (java on PATH or JAVA_HOME): Spark's Thrift server needs Java 17"
    return None


def check_jars() -> list[Path]:
    """The vendored Delta jars, after checking them against their recorded checksums."""
    recorded: dict[str, str] = {}
    for line in (JARS / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            recorded[name] = digest
    jars = []
    for name, digest in sorted(recorded.items()):
        path = JARS / name
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != digest:
            raise RuntimeError(f"{path} has checksum {actual}, SHA256SUMS records {digest}")
        jars.append(path)
    return jars


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def spark_server(folder: Path) -> Iterator[SparkServer]:
    """Start the server writing in ``folder``, wait until it answers, and stop it (its whole process group)
    when the block ends."""
    submit = VENV / "bin" / "spark-submit"
    if not submit.exists():
        raise RuntimeError(f"{submit} is missing: `make databricks` builds it from requirements-spark-server.txt")
    jars = check_jars()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        str(submit),
        "--master",
        "local[2]",
        "--driver-memory",
        "2g",
        "--jars",
        ",".join(map(str, jars)),
        "--class",
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--name",
        "source-simulator-tests",
        *(part for key, value in CONF.items() for part in ("--conf", f"{key}={value}")),
        "--conf",
        f"spark.sql.warehouse.dir={folder / 'warehouse'}",
        "--conf",
        # The parallel collector: G1's concurrent threads cost the server a fifth of its CPU on these two cores
        # (the tier took 286 s with G1, 235 s with it, the Spark server's CPU 465 s and 377 s).
        f"spark.driver.extraJavaOptions=-Dderby.system.home={folder / 'derby'} -XX:+UseParallelGC",
        "--conf",
        f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={folder / 'metastore'};create=true",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--hiveconf",
        "hive.server2.transport.mode=http",
        "--hiveconf",
        f"hive.server2.thrift.http.port={port}",
        "--hiveconf",
        f"hive.server2.thrift.http.path={HTTP_PATH}",
        "--hiveconf",
        "hive.server2.thrift.bind.host=127.0.0.1",
    ]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOCAL_DIRS": str(folder / "scratch")}
    # The venv's own Spark, whatever else the machine has (spark-submit would look for it with the python on PATH).
    env["SPARK_HOME"] = str(next(VENV.glob("lib/python3*/site-packages/pyspark")))
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        started = time.monotonic()
        while not _answers(port):
            if process.poll() is not None:
                raise RuntimeError(f"Spark's Thrift server exited ({process.returncode}); see {folder / 'server.log'}")
            if time.monotonic() - started > READY_SECONDS:
                raise RuntimeError(f"Spark's Thrift server did not answer in {READY_SECONDS:.0f} s")
            time.sleep(0.5)
        yield SparkServer(port, folder)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
