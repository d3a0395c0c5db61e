"""Processes that say they are ready on a line of their output (DNS stub, redirector, proxies,
Redis), started on loopback and killed at teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path


class LineProc:
    """A child process that is ready once ``ready`` appears in its output (stdout+stderr)."""

    def __init__(
        self,
        args: list[str],
        ready: str,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open for the process lifetime
            prefix="turnout-test-", suffix=".log", delete=False
        )
        self.popen = subprocess.Popen(
            args,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while ready not in self.output():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                out = self.output()
                self.stop()
                raise RuntimeError(f"{args[0]} did not start:\n{out[-3000:]}")
            time.sleep(0.02)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def count(self, needle: str) -> int:
        return self.output().count(needle)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)  # its own session: nothing else
            self.popen.wait(10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
