"""Upload benchmark: accepting a 49 MB PDF end to end, against streaming the same bytes to a discard route.

    .venv/bin/python -m bench.upload_bench        # or: .venv/bin/python bench/upload_bench.py

The API runs under uvicorn on a free port, on a fresh SQLite database and storage folder, as its own
small app: the real application plus one route, `/bench/discard`, that reads the body and throws it
away (it exists only in this benchmark). The same multipart body (the upload fields and a 49 MiB
PDF holding one scanned-page image) is sent alternately to the discard route and to
`POST /api/v1/documents`, which streams it to disk while counting and hashing it, fsyncs it, checks
it in the limited PDF checker, renames it and commits its row. Reported: the median times and their
ratio (target: at most 1.5), and the API process's peak resident memory during an upload above its
idle memory (target: under 64 MB). Results go to bench/results/upload.md.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from fastapi import Request

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ROUNDS = 7
PACED_ROUNDS = 3
PACED_RATE = 100 * 1024 * 1024  # bytes/s: a fast (800 Mbit/s) link
IMAGE_WIDTH, IMAGE_HEIGHT = 4096, 4181  # 4096 x 4181 RGB = 51,376,128 bytes: a 49 MiB scan
BOUNDARY = "bench-boundary-7f3a"
RSS_TARGET = 64 * 1024 * 1024
RATIO_TARGET = 1.5


def bench_app() -> Any:
    """The API with one extra route that only discards the request body (for `uvicorn --factory`)."""
    from api.main import create_app

    app = create_app()

    @app.post("/bench/discard", include_in_schema=False)
    async def discard(request: Request) -> dict[str, int]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
        return {"received": received}

    return app


def make_pdf(path: Path) -> int:
    """A valid one-page PDF whose page is one uncompressed RGB image of noise (like a scan)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    image = DecodedStreamObject()
    image.set_data(os.urandom(IMAGE_WIDTH * IMAGE_HEIGHT * 3))
    image.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(IMAGE_WIDTH),
            NameObject("/Height"): NumberObject(IMAGE_HEIGHT),
            NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
            NameObject("/BitsPerComponent"): NumberObject(8),
        }
    )
    contents = DecodedStreamObject()
    contents.set_data(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    page[NameObject("/Contents")] = writer._add_object(contents)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): writer._add_object(image)})}
    )
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


def write_body(path: Path, pdf: Path, fields: dict[str, str]) -> int:
    """The multipart body, fields first, written to disk once and streamed from there."""
    with path.open("wb") as out:
        for key, value in fields.items():
            out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        out.write(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n".encode()
        )
        with pdf.open("rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        out.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    return path.stat().st_size


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_database(url: str) -> str:
    """Migrate and seed a fresh database; return a session token of the demo supplier."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from api.auth.models import User
    from api.auth.sessions import create_session
    from api.database import make_engine
    from api.manage import migrate
    from api.seed import load_demo_data

    migrate(url)
    list(load_demo_data(url))
    engine = make_engine(url)
    with Session(engine) as db:
        user = db.scalar(select(User).where(User.user_id == "demo.supplier"))
        assert user is not None
        token, _ = create_session(db=db, user=user)
    engine.dispose()
    return token


@dataclass
class MemoryWatch:
    """Samples the resident memory of the API process (and, apart, of its PDF checker) every 2 ms."""

    process: psutil.Process
    api_peak: int = 0
    checker_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.api_peak = max(self.api_peak, self.process.memory_info().rss)
                for child in self.process.children(recursive=True):
                    self.checker_peak = max(self.checker_peak, child.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.002)

    def __enter__(self) -> MemoryWatch:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


def send(
    client: httpx.Client, url: str, body: Path, headers: dict[str, str], rate: float | None = None
) -> tuple[float, httpx.Response]:
    """POST the body from disk in 64 KiB chunks; `rate` (bytes/s) paces the client like a network link."""

    def chunks() -> Any:
        started, sent = time.perf_counter(), 0
        with body.open("rb") as fh:
            while chunk := fh.read(64 * 1024):
                if rate:
                    ahead = sent / rate - (time.perf_counter() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                sent += len(chunk)
                yield chunk

    started = time.perf_counter()
    response = client.post(url, content=chunks(), headers={**headers, "Content-Length": str(body.stat().st_size)})
    return time.perf_counter() - started, response


def run() -> dict[str, Any]:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'bench.db'}"
        token = prepare_database(url)
        pdf_size = make_pdf(work / "scan.pdf")
        fields = {
            "bidder_number": "12345",
            "document_type": "financial",
            "description": "balance_sheet",
            "certification_user_id": "demo.supplier",
        }
        body = work / "body.bin"
        body_size = write_body(body, work / "scan.pdf", fields)
        port = free_port()
        env = os.environ | {
            "DATABASE_URL": url,
            "STORAGE_DIR": str(work / "storage"),
            "ENVIRONMENT": "test",
            "ACTION_SERVICE_TOKEN": "bench-service-token",
            "RASA_AUTH_TOKEN": "bench-rasa-token",
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", "bench.upload_bench:bench_app"]
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the API did not start")
                time.sleep(0.2)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
            api = psutil.Process(server.pid)
            with httpx.Client(base_url=base, timeout=120) as client:
                time.sleep(1.0)
                idle_rss = api.memory_info().rss  # started, never uploaded to: the strictest baseline
                # Warm up both paths (lazy imports, the PDF checker's first start, the page cache); the
                # memory watch covers this first upload too.
                _, response = send(client, "/bench/discard", body, headers)
                response.raise_for_status()
                with MemoryWatch(api) as watch:
                    _, response = send(client, "/api/v1/documents", body, headers)
                response.raise_for_status()
                discard_times: list[float] = []
                upload_times: list[float] = []
                api_peak, checker_peak = watch.api_peak, watch.checker_peak
                for _ in range(ROUNDS):
                    seconds, response = send(client, "/bench/discard", body, headers)
                    assert response.json()["received"] == body_size, response.text
                    discard_times.append(seconds)
                    with MemoryWatch(api) as watch:
                        seconds, response = send(client, "/api/v1/documents", body, headers)
                    assert response.status_code == 201, response.text
                    assert response.json()["size_bytes"] == pdf_size
                    upload_times.append(seconds)
                    api_peak = max(api_peak, watch.api_peak)
                    checker_peak = max(checker_peak, watch.checker_peak)
                paced_discard: list[float] = []
                paced_upload: list[float] = []
                for _ in range(PACED_ROUNDS):
                    paced_discard.append(send(client, "/bench/discard", body, headers, PACED_RATE)[0])
                    seconds, response = send(client, "/api/v1/documents", body, headers, PACED_RATE)
                    assert response.status_code == 201, response.text
                    paced_upload.append(seconds)
            floor = work_floor(work / "storage", work / "scan.pdf")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "pdf_size": pdf_size,
        "body_size": body_size,
        "discard": discard_times,
        "upload": upload_times,
        "idle_rss": idle_rss,
        "api_peak": api_peak,
        "checker_peak": checker_peak,
        "paced_discard": paced_discard,
        "paced_upload": paced_upload,
        "floor": floor,
        "load": load,
    }


def work_floor(folder: Path, pdf: Path) -> dict[str, float]:
    """What the upload must do that the discard route does not, each measured alone (median of 3)."""
    import hashlib

    data = pdf.read_bytes()
    hashing, writing, syncing = [], [], []
    for _ in range(3):
        started = time.perf_counter()
        hashlib.sha256(data).hexdigest()
        hashing.append(time.perf_counter() - started)
        target = folder / "floor.tmp"
        started = time.perf_counter()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        view = memoryview(data)
        for offset in range(0, len(data), 1 << 20):
            os.write(fd, view[offset : offset + (1 << 20)])
        written = time.perf_counter()
        os.fsync(fd)
        os.close(fd)
        writing.append(written - started)
        syncing.append(time.perf_counter() - written)
        target.unlink()
    return {
        "sha256": statistics.median(hashing),
        "write": statistics.median(writing),
        "fsync": statistics.median(syncing),
    }


def report(result: dict[str, Any]) -> str:
    mib = 1024 * 1024
    discard = statistics.median(result["discard"])
    upload = statistics.median(result["upload"])
    ratio = upload / discard
    delta = result["api_peak"] - result["idle_rss"]
    floor = result["floor"]
    floor_ms = sum(floor.values()) * 1000
    floor_ratio = floor_ms / 1000 / discard
    floor_note = (
        "That work cannot all hide behind a transfer this fast on cores shared with the client, so 1.5x of a "
        "loopback discard is out of reach here for any design that hashes the file and writes it durably; "
        "it is a fixed cost per file, which a real network link hides (below)."
        if floor_ratio > RATIO_TARGET - 1
        else ""
    )
    paced_discard = statistics.median(result["paced_discard"])
    paced_upload = statistics.median(result["paced_upload"])

    def verdict(ok: bool) -> str:
        return "meets the target" if ok else "**misses the target**"

    rounds = "\n".join(
        f"| {i} | {d * 1000:.0f} ms | {u * 1000:.0f} ms | {u / d:.2f} |"
        for i, (d, u) in enumerate(zip(result["discard"], result["upload"], strict=True), start=1)
    )
    return f"""# Upload benchmark — {dt.date.today().isoformat()}

Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 1024**3:.0f} GiB, {platform.machine()},
Python {platform.python_version()}, load average {result["load"]:.1f} when the run started (other work on
the machine makes single rounds vary). Client and server on the same machine (loopback), one uvicorn worker,
SQLite. Each request streams the same multipart body of {result["body_size"]:,} bytes (a valid
{result["pdf_size"]:,}-byte PDF, one page holding a 4096 x 4181 RGB image, plus the upload fields) from
disk in 64 KiB chunks with a Content-Length. {ROUNDS} rounds, alternating, after one warm-up of each.

- **discard**: a route that reads the body and throws it away (exists only in this benchmark's app).
- **upload**: `POST /api/v1/documents`: stream to a temporary file while counting and hashing (sha256),
  check the fields, check the PDF in the limited checker process, fsync, rename, commit the row.

| round | discard | upload | ratio |
|---|---|---|---|
{rounds}

| measure | value | target |
|---|---|---|
| Median discard | {discard * 1000:.0f} ms ({result["body_size"] / discard / mib:.0f} MiB/s) | |
| Median upload, end to end | {upload * 1000:.0f} ms ({result["body_size"] / upload / mib:.0f} MiB/s) | |
| Upload / discard | {ratio:.2f}x | at most {RATIO_TARGET}x: {verdict(ratio <= RATIO_TARGET)} |
| API resident memory, idle (started, before any upload) | {result["idle_rss"] / mib:.1f} MiB | |
| API resident memory, peak during the uploads (first one included) | {result["api_peak"] / mib:.1f} MiB | |
| Peak above idle | {delta / mib:.1f} MiB | under 64 MB: {verdict(delta < RSS_TARGET)} |
| PDF checker child, peak resident memory | {result["checker_peak"] / mib:.1f} MiB | (separate, limited process) |

## Why the ratio is what it is

The discard route receives loopback traffic at {result["body_size"] / discard / mib:.0f} MiB/s. The upload must also
do, on the same {os.cpu_count()} cores as the client, work that the discard route skips. Measured alone on this
machine for the same PDF: sha256 {floor["sha256"] * 1000:.0f} ms, writing to the storage folder
{floor["write"] * 1000:.0f} ms, fsync {floor["fsync"] * 1000:.0f} ms, {floor_ms:.0f} ms in all, that is
{floor_ratio:.1f}x the median discard time, before parsing, the PDF check and the database commit.
{floor_note}

Paced like a real link ({PACED_RATE / mib:.0f} MiB/s, about 800 Mbit/s), where the client rather than the
server sets the pace ({PACED_ROUNDS} rounds):

| measure | value |
|---|---|
| Median discard, paced | {paced_discard * 1000:.0f} ms |
| Median upload, paced | {paced_upload * 1000:.0f} ms |
| Upload / discard, paced | {paced_upload / paced_discard:.2f}x |
"""


def main() -> int:
    result = run()
    text = report(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "upload.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:  # run as a script: make `api` and `bench` importable
        sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
