"""Reading an upload request body as it arrives, from a worker thread, without holding it in memory.

The routes are plain `def` functions (FastAPI runs them in a worker thread), so the file can be
written with ordinary blocking calls. `RequestBody` has the event loop read the body ahead (at most
`READ_AHEAD_BYTES` per request) and hands it to the thread in batches of about `HANDOVER_BYTES`;
`receive_form` parses each batch with python-multipart's streaming parser and writes the file part
straight into a `PendingFile`, which counts and hashes it. Receiving, parsing, writing and hashing
overlap, which is what makes a large upload nearly as fast as the network.

The size rule: a file of `MAX_FILE_BYTES` (50 MiB = 52,428,800 bytes) or more is refused, so a file
of exactly 50 MB is refused and the largest accepted file is 52,428,799 bytes. It is enforced twice:
a request whose declared Content-Length already proves the file too large is refused before any of
the body is read, and a streamed body (chunked, or with a smaller Content-Length) is refused as soon
as the chunk that reaches the limit arrives (near the limit every chunk is handled as it comes); the
rest of the body is never read or stored.
"""

from __future__ import annotations

import asyncio
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio.from_thread
from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from api.documents.errors import DocumentError, error
from api.documents.storage import FileStorage, PendingFile

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FILE_BYTES = 50 * 1024 * 1024
"""52,428,800 bytes: a file of this size or larger is refused ("under 50 MB")."""
MAX_FORM_OVERHEAD = 64 * 1024
"""Room for the form fields and the multipart framing around the file."""
MAX_FIELD_BYTES = 1024
MAX_PARTS = 12
MAX_JSON_BYTES = 16 * 1024
MAX_FILE_NAME_CHARS = 255
READ_AHEAD_BYTES = 1024 * 1024
"""How much of a body the event loop reads ahead of the worker thread (per request)."""
HANDOVER_BYTES = 512 * 1024
"""The worker thread takes the body in batches of about this size (fewer wake-ups, writes and hash calls)."""
DEFAULT_FILE_NAME = "document.pdf"

FILE_TOO_LARGE = (
    "The file must be under 50 MB (at most 52,428,799 bytes) and this one is 50 MB or larger; "
    "reduce it (for example scan at a lower resolution) or split it into several PDFs, and upload again."
)
UNSAFE_NAME_CHARACTERS = set('<>:"|?*')


def file_too_large() -> DocumentError:
    return error(413, "file_too_large", FILE_TOO_LARGE, field="file")


class RequestBody:
    """The body of one request, read ahead by the event loop and consumed by the worker thread that serves it.

    A small task in the event loop (the "pump") pulls the body as it arrives into a bounded buffer
    (`READ_AHEAD_BYTES`); the worker thread takes whatever is buffered, so receiving and writing
    overlap instead of taking turns, and the thread never hops to the event loop for a chunk. Read-ahead
    never delays a decision or reads past one: the worker gets the first chunk (the fields, usually) at
    once, and near the size limit the pump reads one chunk at a time, only when the worker has taken
    the last one; when the worker stops (the body is refused), the pump stops reading.
    """

    def __init__(self, request: Request) -> None:
        self.content_type = request.headers.get("content-type", "")
        raw_length = request.headers.get("content-length")
        self.content_length: int | None = None
        if raw_length is not None:
            if not raw_length.isdigit():
                raise error(400, "bad_content_length", "The Content-Length header must be a number of bytes.")
            self.content_length = int(raw_length)
        self._request = request
        self.received = 0  # handed to the worker
        self.prompt_from = MAX_FILE_BYTES - READ_AHEAD_BYTES
        # Shared by the pump (event loop) and the worker thread; every field below is under _lock.
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._buffer: deque[bytes] = deque()
        self._buffered = 0
        self._pulled = 0  # read from the stream by the pump
        self._ended = False
        self._failure: BaseException | None = None
        self._closed = False
        self._hungry = False  # the worker waits for data
        self._pump_waiting = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._room: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # --- in the event loop -------------------------------------------------------------------------

    def _start_pump(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._room = asyncio.Event()
        self._task = self._loop.create_task(self._pump())

    def _may_read_locked(self) -> bool:
        if self._closed:
            return False
        if self._pulled < self.prompt_from and self._buffered < READ_AHEAD_BYTES:
            return True
        return self._hungry and not self._buffer  # near the limit (or full): one chunk on demand

    async def _pump(self) -> None:
        assert self._room is not None
        failure: BaseException | None = None
        try:
            stream = self._request.stream()
            chunk = b""
            while True:
                with self._lock:  # one critical section per chunk: hand it over, then decide
                    if chunk and not self._closed:
                        self._buffer.append(chunk)
                        self._buffered += len(chunk)
                        self._pulled += len(chunk)
                        if self._hungry and self._ready_locked():
                            self._arrived.notify()
                    may_read = self._may_read_locked()
                    if not may_read:
                        if self._closed:
                            return
                        self._pump_waiting = True
                        self._room.clear()
                if not may_read:
                    chunk = b""
                    await self._room.wait()
                    continue
                try:
                    chunk = await stream.__anext__()
                except StopAsyncIteration:
                    return
        except ClientDisconnect:
            failure = _interrupted()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # handed to the worker, which raises it in the request
            failure = exc
        finally:
            with self._lock:
                self._ended = True
                self._failure = failure
                self._arrived.notify()

    # --- in the worker thread ----------------------------------------------------------------------

    def _ready_locked(self) -> bool:
        """Whether the worker should take the buffer now: a full batch, or a decision must not wait."""
        if self._ended or self._closed:
            return True
        if not self._buffer:
            return False
        # Batching never delays a decision: the first chunk (the fields, usually) and every chunk
        # near the size limit are handed over at once.
        return self._buffered >= HANDOVER_BYTES or self.received == 0 or self._pulled >= self.prompt_from

    def _wake_pump_locked(self) -> None:
        if self._pump_waiting and (self._closed or self._may_read_locked()):
            self._pump_waiting = False
            assert self._loop is not None and self._room is not None
            self._loop.call_soon_threadsafe(self._room.set)

    def batches(self) -> Iterator[list[bytes]]:
        """The body in batches of chunks, as they arrive; stops at the end of the body."""
        if self._task is None:
            anyio.from_thread.run_sync(self._start_pump)
        while True:
            with self._lock:
                while not self._ready_locked():
                    self._hungry = True
                    self._wake_pump_locked()
                    self._arrived.wait()
                self._hungry = False
                batch = list(self._buffer)
                self._buffer.clear()
                self.received += self._buffered
                self._buffered = 0
                failure = self._failure if not batch else None
                self._wake_pump_locked()
            if failure is not None:
                raise failure
            if not batch:
                return
            yield batch

    def close(self) -> None:
        """Stop reading the body (the rest of it is never read); safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._buffer.clear()
            self._buffered = 0
            task, loop = self._task, self._loop
        if task is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    def read_all(self, *, limit: int) -> bytes:
        """The whole (small) body, refused when larger than `limit` bytes."""
        if self.content_length is not None and self.content_length > limit:
            raise _request_too_large(limit)
        parts: list[bytes] = []
        try:
            for batch in self.batches():
                parts.extend(batch)
                if self.received > limit:
                    raise _request_too_large(limit)
        finally:
            self.close()
        return b"".join(parts)


def _interrupted() -> DocumentError:
    return error(
        400,
        "upload_interrupted",
        "The connection closed before the whole file arrived, so nothing was saved; upload the file again.",
    )


def _request_too_large(limit: int) -> DocumentError:
    return error(
        413,
        "request_too_large",
        f"A JSON upload request may have at most {limit:,} bytes; send only the upload fields, "
        "or send the file itself as multipart/form-data.",
    )


def clean_file_name(raw: str | None) -> str:
    """The original file name, checked and made harmless; it is kept as metadata, never used as a path."""
    if raw is None or not raw.strip():
        return DEFAULT_FILE_NAME
    if "/" in raw or "\\" in raw:
        raise error(
            422,
            "file_name_has_path",
            "The file name contains a folder path or a slash (/ or \\); "
            "rename the file without slashes and upload it again.",
            field="file",
        )
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for ch in raw):
        raise error(
            422,
            "file_name_has_control_characters",
            "The file name contains invisible control characters; rename the file using only letters, "
            "digits, spaces and ordinary punctuation, and upload it again.",
            field="file",
        )
    if len(raw) > MAX_FILE_NAME_CHARS:
        raise error(
            422,
            "file_name_too_long",
            f"The file name has {len(raw)} characters and may have at most {MAX_FILE_NAME_CHARS}; "
            "rename the file with a shorter name and upload it again.",
            field="file",
        )
    name = unicodedata.normalize("NFC", raw)
    name = "".join("_" if ch in UNSAFE_NAME_CHARACTERS else ch for ch in name)
    name = " ".join(name.split()).strip(" .")
    return name or DEFAULT_FILE_NAME


def _decode_header(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _unescape_file_name(value: str) -> str:
    # Browsers (WHATWG multipart/form-data) send " CR LF in a file name as %22 %0D %0A, and nothing else.
    return value.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


@dataclass
class ReceivedForm:
    """What a multipart body carried: the text fields and (at most) one file."""

    fields: dict[str, str] = field(default_factory=dict)
    file: PendingFile | None = None
    file_name: str | None = None
    complete: bool = False

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    is_file: bool = False
    data: bytearray = field(default_factory=bytearray)


class _FormReceiver:
    def __init__(
        self,
        *,
        storage: FileStorage,
        allowed_fields: frozenset[str],
        before_file: Callable[[dict[str, str]], None] | None,
    ) -> None:
        self.storage = storage
        self.allowed_fields = allowed_fields
        self.before_file = before_file
        self.form = ReceivedForm()
        self.part = _Part()
        self.parts = 0
        self._header_name = b""
        self._header_value = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _form_invalid(f"the form has more than {MAX_PARTS} parts")
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        disposition = self.part.headers.get(b"content-disposition", b"").decode("latin-1")
        _, options = parse_options_header(disposition)
        name = _decode_header(options.get(b"name", b""))
        if not name:
            raise _form_invalid("a part of the form has no field name")
        self.part.name = name
        if name == "file":
            if self.form.file is not None:
                raise _form_invalid("only one file may be sent per upload")
            raw_name = options.get(b"filename")
            decoded = _unescape_file_name(_decode_header(raw_name)) if raw_name is not None else None
            self.form.file_name = clean_file_name(decoded)
            if self.before_file is not None:
                self.before_file(dict(self.form.fields))
            self.part.is_file = True
            self.form.file = self.storage.begin()
        elif name not in self.allowed_fields:
            allowed = ", ".join(sorted(self.allowed_fields | {"file"}))
            raise error(
                422, "unknown_field", f"'{name[:40]}' is not an upload field; send only: {allowed}.", field=name[:40]
            )
        elif name in self.form.fields:
            raise _form_invalid(f"the field '{name}' is sent twice")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.is_file:
            pending = self.form.file
            assert pending is not None
            if pending.size + (end - start) >= MAX_FILE_BYTES:
                raise file_too_large()
            pending.write(memoryview(data)[start:end])
        else:
            self.part.data += data[start:end]
            if len(self.part.data) > MAX_FIELD_BYTES:
                raise _form_invalid(f"the field '{self.part.name}' is longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if not self.part.is_file:
            try:
                self.form.fields[self.part.name] = self.part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise _form_invalid(f"the field '{self.part.name}' is not UTF-8 text") from None

    def on_end(self) -> None:
        self.form.complete = True


def _form_invalid(reason: str) -> DocumentError:
    return error(400, "form_invalid", f"The upload form is not valid: {reason}; send the form as the upload page does.")


def is_multipart(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def receive_form(
    body: RequestBody,
    *,
    storage: FileStorage,
    allowed_fields: frozenset[str],
    before_file: Callable[[dict[str, str]], None] | None = None,
) -> ReceivedForm:
    """Stream a multipart body: fields into memory (small, limited), the file part into storage.

    `before_file` sees the fields sent before the file and may refuse them before the file is read.
    On any error the partly written file is removed; the caller owns `form.file` otherwise.
    """
    if body.content_length is not None and body.content_length >= MAX_FILE_BYTES + MAX_FORM_OVERHEAD:
        raise file_too_large()  # declared too large: refused before reading a byte
    _, params = parse_options_header(body.content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise _form_invalid("the multipart Content-Type has no boundary")
    receiver = _FormReceiver(storage=storage, allowed_fields=allowed_fields, before_file=before_file)
    try:
        parser = MultipartParser(boundary, receiver.callbacks())
        for batch in body.batches():
            if body.received >= MAX_FILE_BYTES + MAX_FORM_OVERHEAD:
                raise file_too_large()  # bounds the whole body, whatever it is made of
            # One parser call (and so one write and one hash call) per batch, not per network chunk.
            parser.write(batch[0] if len(batch) == 1 else b"".join(batch))
        parser.finalize()
        if not receiver.form.complete:
            raise error(
                400,
                "upload_incomplete",
                "The upload ended before the end of the form, so the file may be cut short and nothing was saved; "
                "upload the file again.",
            )
        if receiver.form.file is not None:
            receiver.form.file.start_sync()  # the disk finishes while the fields and the PDF are checked
    except MultipartParseError:
        receiver.form.discard()
        raise _form_invalid("the multipart body is malformed") from None
    except BaseException:
        receiver.form.discard()
        raise
    finally:
        body.close()
    return receiver.form
