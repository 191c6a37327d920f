"""Following a stack started as a child process (`python -m stack run` or `run-scaled`) until it is ready:
used by the live-stack tests, the scaled-out tests and the chat benchmark."""

from __future__ import annotations

import subprocess
import threading
import time

READY_LINE = "[stack] ready in"
"""The start of the line both runners print when every service is healthy."""


def wait_until_ready(process: subprocess.Popen[str], output: list[str], timeout: float | None = None) -> bool:
    """Copy the process's output lines into `output` (in a daemon thread, for as long as it runs) and wait
    for READY_LINE. False when the process ended first or `timeout` seconds passed; the caller reports
    `output` and stops the process."""
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout
        for line in process.stdout:
            output.append(line.rstrip())
            if line.startswith(READY_LINE):
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = None if timeout is None else time.monotonic() + timeout
    while not ready.wait(0.5):
        if process.poll() is not None or (deadline is not None and time.monotonic() > deadline):
            return False
    return True
