"""Separate processes for end-to-end tests: start with logs in files, wait for a line or an HTTP answer, stop.

Output goes to files, not pipes, so a chatty process never blocks on a full pipe, and a failing
test can show the tail of each log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") if self.stdout.exists() else ""

    def log(self) -> str:
        return self.stderr.read_text(errors="replace") if self.stderr.exists() else ""

    def describe(self, tail: int = 4000) -> str:
        """For assertion messages: exit status and the end of both logs."""
        return (f"{self.name} (exit {self.popen.poll()})\n--- stdout\n{self.output()[-tail:]}\n"
                f"--- stderr\n{self.log()[-tail:]}")

    def alive(self) -> bool:
        return self.popen.poll() is None


def graphinv_command(*args: str) -> list[str]:
    """The `graphinv` entry point as this test's Python runs it (the containers run `graphinv ARGS`)."""
    return [sys.executable, "-m", "graphinv", *args]


def start_process(name: str, command: Sequence[str], logs: Path, env: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> Process:
    logs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        popen = subprocess.Popen(list(command), stdout=out, stderr=err, cwd=cwd,
                                 env={**os.environ, "COLUMNS": "200", **(env or {})})
    return Process(name, popen, stdout, stderr)


def stop_process(process: Process, timeout: float = 120.0) -> int | None:
    """SIGTERM, as an orchestrator stops a container; SIGKILL only when it does not stop in time."""
    if process.alive():
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait(30)
    return process.popen.returncode


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               watched: Sequence[Process] = (), interval: float = 0.5) -> None:
    """Poll `condition` until true; fail early (with their logs) when a watched process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for process in watched:
            if not process.alive():
                raise AssertionError(f"{process.name} exited while waiting for {what}:\n{process.describe()}")
        time.sleep(interval)
    logs = "\n".join(p.describe() for p in watched)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")


def wait_for_output(process: Process, text: str, timeout: float) -> None:
    wait_until(lambda: text in process.output(), timeout, f"{text!r} on {process.name}'s stdout", [process])


def http_ok(url: str, headers: Mapping[str, str] | None = None) -> bool:
    try:
        return httpx.get(url, headers=dict(headers or {}), timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for_http(url: str, timeout: float, watched: Sequence[Process] = (),
                  headers: Mapping[str, str] | None = None) -> None:
    wait_until(lambda: http_ok(url, headers), timeout, f"200 from {url}", watched)
