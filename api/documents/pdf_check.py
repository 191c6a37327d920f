"""Checks that a received file is a PDF a reviewer can open, without trusting the file.

Parsing an untrusted PDF is bounded: every check runs in its own child process that limits itself
(address space `CHECK_MEMORY_BYTES`, CPU time, no file writes, no core dump) before it reads the
file, and that child is killed when `CHECK_SECONDS` of wall-clock time have passed. A crafted file
can therefore cost at most those limits, never a worker thread or the API's memory.

The children are forked by a small helper process (the "zygote", `python -m api.documents.pdf_check`)
that has already imported pypdf, so a check starts in milliseconds instead of the half second a fresh
interpreter needs. The zygote is single-threaded (forking is safe there, unlike in the API process),
speaks one JSON line per request and per answer over its stdin/stdout, enforces the time limit
itself, and exits with its children when the API goes away. The API side restarts it when it dies.
This module imports nothing from the API, to keep the zygote small.
"""

from __future__ import annotations

import contextlib
import enum
import io
import itertools
import json
import logging
import os
import resource
import selectors
import signal
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CHECK_SECONDS = 20.0
"""Wall-clock limit of one check; the child's CPU-time limit is the same."""
CHECK_MEMORY_BYTES = 768 * 1024 * 1024
"""Address-space limit of one child (the zygote it is forked from already maps about 70 MB)."""
MAX_CONCURRENT_CHECKS = max(2, os.cpu_count() or 2)
QUEUE_SECONDS = 60.0
"""How long a check waits for a free slot before the upload is refused as busy."""

PDF_MAGIC = b"%PDF-"
HEADER_WINDOW = 1024  # PDF readers accept the header anywhere in the first 1024 bytes

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    ok = "ok"
    not_a_pdf = "not_a_pdf"
    damaged = "damaged"
    password_required = "password_required"  # noqa: S105  (an outcome, not a password)
    permissions_password = "permissions_password"  # noqa: S105
    no_pages = "no_pages"
    too_complex = "too_complex"
    unavailable = "unavailable"


@dataclass(frozen=True)
class PdfCheck:
    outcome: Outcome
    pages: int = 0


def looks_like_pdf(head: bytes) -> bool:
    """Whether the first bytes carry the PDF header (cheap, before any parsing)."""
    return PDF_MAGIC in head[:HEADER_WINDOW]


def inspect(path: str) -> PdfCheck:
    """Open the file with pypdf and classify it. Unbounded: call it only in a limited process."""
    with open(path, "rb") as fh:  # a file object, so that pypdf seeks instead of reading it all
        return inspect_stream(fh)


def inspect_stream(fh: IO[bytes]) -> PdfCheck:
    # pypdf is imported here, not at the top: only the checker process needs it, not the API.
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    if not looks_like_pdf(fh.read(HEADER_WINDOW)):
        return PdfCheck(Outcome.not_a_pdf)
    fh.seek(0)
    reader = PdfReader(fh, strict=False)
    if reader.is_encrypted:
        # is_encrypted is true for both kinds of protection: a file that opens with the empty
        # password has only an owner (permissions) password; any other needs a password to open.
        try:
            matched = reader.decrypt("")
        except (DependencyError, NotImplementedError):
            return PdfCheck(Outcome.password_required)
        if matched == PasswordType.NOT_DECRYPTED:
            return PdfCheck(Outcome.password_required)
        return PdfCheck(Outcome.permissions_password)
    pages = len(reader.pages)
    if pages == 0:
        return PdfCheck(Outcome.no_pages)
    for page in reader.pages:  # every page must resolve, not only the page count
        page.mediabox  # noqa: B018
    return PdfCheck(Outcome.ok, pages)


def _warm_up() -> None:
    """Run the check once on PDFs made here, so that pypdf's lazy imports are done before forking."""
    from pypdf import PdfWriter

    for algorithm in (None, "AES-256", "AES-128", "RC4-128"):
        writer = PdfWriter()
        writer.add_blank_page(72, 72)
        if algorithm:
            writer.encrypt("", "owner", algorithm=algorithm)
        buffer = io.BytesIO()
        writer.write(buffer)
        buffer.seek(0)
        inspect_stream(buffer)


# --- the limited child and the zygote that forks it (a separate, single-threaded process) -----------


def _run_child(path: str, seconds: float, memory_bytes: int, out_fd: int) -> None:
    """In a freshly forked child: limit this process, classify the file, write the answer, exit."""
    code = 0
    try:
        cpu = max(1, int(seconds + 0.999))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            result = inspect(path)
        except Exception as exc:
            # pypdf raises many kinds of errors for a broken file, and wraps some of them; a limit
            # anywhere in the chain means the file is too complex, anything else that it is damaged.
            # Running out of address space shows in many disguises (even SystemError), so the peak
            # size of this process is the better witness of that.
            too_complex = _hit_a_limit(exc) or _peak_address_space() >= memory_bytes - MEMORY_MARGIN
            result = PdfCheck(Outcome.too_complex if too_complex else Outcome.damaged)
        os.write(out_fd, json.dumps([result.outcome.value, result.pages]).encode())
    except BaseException:
        code = 1
    finally:
        os._exit(code)


MEMORY_MARGIN = 16 * 1024 * 1024


def _peak_address_space() -> int:
    """The most address space this process has used, from /proc (0 where there is no /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _hit_a_limit(exc: BaseException | None) -> bool:
    from pypdf.errors import LimitReachedError

    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, (MemoryError, RecursionError, LimitReachedError)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


@dataclass
class _Running:
    request_id: int
    pid: int
    fd: int
    deadline: float
    answer: bytes = b""


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The zygote's loop: fork one limited child per request line, answer one line per request."""
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    _warm_up()
    sel = selectors.DefaultSelector()
    in_fd = stdin.fileno()
    os.set_blocking(in_fd, False)
    sel.register(in_fd, selectors.EVENT_READ, None)
    running: dict[int, _Running] = {}  # by the child's result fd
    pending_input = b""

    def answer(request_id: int, outcome: str, pages: int = 0) -> None:
        stdout.write(json.dumps({"id": request_id, "outcome": outcome, "pages": pages}).encode() + b"\n")
        stdout.flush()

    def finish(job: _Running, killed: bool) -> None:
        sel.unregister(job.fd)
        os.close(job.fd)
        del running[job.fd]
        if killed:
            os.kill(job.pid, signal.SIGKILL)
        os.waitpid(job.pid, 0)
        try:
            outcome, pages = json.loads(job.answer) if not killed else ("too_complex", 0)
        except ValueError:
            outcome, pages = "too_complex", 0  # the child died without answering: a limit killed it
        answer(job.request_id, outcome, pages)

    while True:
        now = time.monotonic()
        for job in [j for j in running.values() if j.deadline <= now]:
            finish(job, killed=True)
        timeout = min((j.deadline for j in running.values()), default=now + 3600) - now
        for key, _ in sel.select(max(0.0, timeout)):
            if key.fd == in_fd:
                chunk = os.read(in_fd, 65536)
                if not chunk:  # the API went away: stop every child and leave
                    for job in list(running.values()):
                        finish(job, killed=True)
                    return
                pending_input += chunk
                *lines, pending_input = pending_input.split(b"\n")
                for line in lines:
                    request = json.loads(line)
                    read_fd, write_fd = os.pipe()
                    pid = os.fork()
                    if pid == 0:
                        os.close(read_fd)
                        _run_child(request["path"], request["seconds"], request["memory"], write_fd)
                    os.close(write_fd)
                    job = _Running(request["id"], pid, read_fd, time.monotonic() + request["seconds"])
                    running[read_fd] = job
                    sel.register(read_fd, selectors.EVENT_READ, None)
            else:
                job = running[key.fd]
                data = os.read(key.fd, 4096)
                if data:
                    job.answer += data
                else:
                    finish(job, killed=False)


# --- the API side ----------------------------------------------------------------------------------


class _Zygote:
    """The API's handle on the zygote process: sends requests, matches answers, restarts it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._waiting: dict[int, tuple[subprocess.Popen[bytes], Future[PdfCheck]]] = {}
        self._ids = itertools.count(1)

    def _start(self) -> subprocess.Popen[bytes]:
        root = Path(__file__).resolve().parents[2]
        python_path = [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.documents.pdf_check"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
            start_new_session=True,  # its own process group, so that it can be killed with its children
        )
        threading.Thread(target=self._read_answers, args=(proc,), name="pdf-check-answers", daemon=True).start()
        return proc

    def _read_answers(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                message = json.loads(line)
                result = PdfCheck(Outcome(message["outcome"]), int(message["pages"]))
            except (ValueError, KeyError):
                continue
            with self._lock:
                entry = self._waiting.pop(message["id"], None)
            if entry is not None:
                entry[1].set_result(result)
        # The zygote is gone: nobody will answer the checks it had.
        proc.wait()
        with self._lock:
            if self._proc is proc:
                self._proc = None
            orphans = [rid for rid, (owner, _) in self._waiting.items() if owner is proc]
            futures = [self._waiting.pop(rid)[1] for rid in orphans]
        for future in futures:
            future.set_result(PdfCheck(Outcome.unavailable))

    def check(self, path: Path, *, seconds: float, memory_bytes: int) -> PdfCheck:
        future: Future[PdfCheck] = Future()
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            proc = self._proc
            request_id = next(self._ids)
            self._waiting[request_id] = (proc, future)
            request = {"id": request_id, "path": str(path.resolve()), "seconds": seconds, "memory": memory_bytes}
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
            except OSError:
                self._waiting.pop(request_id, None)
                return PdfCheck(Outcome.unavailable)
        try:
            # The zygote answers within `seconds`; waiting longer means it is stuck: replace it.
            return future.result(timeout=seconds + 10)
        except FutureTimeout:
            logger.error("The PDF checker did not answer; restarting it.")
            self.stop(proc)
            return PdfCheck(Outcome.unavailable)

    def stop(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        with self._lock:
            proc = proc or self._proc
            if proc is None:
                return
            if self._proc is proc:
                self._proc = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None


_zygote = _Zygote()
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)


def check_pdf(
    path: Path, *, seconds: float | None = None, memory_bytes: int | None = None, queue_seconds: float | None = None
) -> PdfCheck:
    """Classify the file at `path` in a limited child process. Blocking: call it from a worker thread."""
    if not _slots.acquire(timeout=QUEUE_SECONDS if queue_seconds is None else queue_seconds):
        return PdfCheck(Outcome.unavailable)
    try:
        return _zygote.check(
            path,
            seconds=CHECK_SECONDS if seconds is None else seconds,
            memory_bytes=CHECK_MEMORY_BYTES if memory_bytes is None else memory_bytes,
        )
    finally:
        _slots.release()


def checker_pid() -> int | None:
    """The zygote's process id while it runs (for the benchmark and the tests)."""
    return _zygote.pid


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
