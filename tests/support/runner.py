"""A tool's process kept running in its own venv for a whole test (importing dbt or dlt takes seconds): it
reads one request a line on stdin and answers ``DONE ok`` or ``DONE failed <error>`` on stdout, after
``READY`` once it has imported the tool."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.sources import REPO


class Runner:
    """The process of ``tests/support/<script>`` run by the venv's Python with ``argument``."""

    def __init__(self, venv: Path, script: str, argument: Path, tool: str) -> None:
        self.tool = tool
        self.process = subprocess.Popen(
            # -P: the runner's folder (the tests' helpers) must not shadow modules the tool imports.
            [str(venv / "bin" / "python"), "-P", str(REPO / "tests" / "support" / script), str(argument)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._until("READY")

    def _until(self, word: str) -> str:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            assert line, f"the {self.tool} process ended"
            if line.startswith(word):
                return line.strip()

    def ask(self, request: str) -> None:
        """Send one request and wait until it is done; a failure fails the test with the tool's error."""
        assert self.process.stdin is not None
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        done = self._until("DONE")
        assert done == "DONE ok", done

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)
