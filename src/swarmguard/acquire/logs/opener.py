r"""Opening a log file that may be gzip-compressed, and walking it line by line.

Examples
--------
>>> import gzip, tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = pathlib.Path(tmp, "a.log.gz")
...     _ = path.write_bytes(gzip.compress(b"one\n\ntwo\n"))
...     print(is_gzip(path), read_bytes(path))
True b'one\n\ntwo\n'
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from swarmguard.acquire.jsonlines import PROGRESS_EVERY
from swarmguard.errors import InputError

__all__ = ["MAX_LOG_BYTES", "is_gzip", "iter_lines", "read_bytes"]

#: Largest decompressed log read into memory at once (guards against gzip bombs).
MAX_LOG_BYTES = 4 * 1024**3

_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Whether the file starts with the gzip magic bytes (the name does not matter)."""
    try:
        with path.open("rb") as fh:
            return fh.read(2) == _GZIP_MAGIC
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from exc


def read_bytes(path: Path) -> bytes:
    """All bytes of the file, decompressed when gzip.

    Raises
    ------
    InputError
        If the file cannot be read or the gzip stream is corrupt or truncated.
    """
    try:
        if is_gzip(path):
            chunks: list[bytes] = []
            size = 0
            with gzip.open(path, "rb") as fh:
                while size <= MAX_LOG_BYTES and (chunk := fh.read(1 << 20)):
                    chunks.append(chunk)
                    size += len(chunk)
            data = b"".join(chunks)
        else:
            data = path.read_bytes()
    except InputError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(path, f"cannot read (corrupt or truncated gzip?): {exc}") from exc
    if len(data) > MAX_LOG_BYTES:
        raise InputError(path, f"larger than {MAX_LOG_BYTES} bytes decompressed")
    return data


def iter_lines(
    path: Path,
    bad: Callable[[int, str], None],
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each non-blank UTF-8 line (gzip accepted).

    ``bad(line, reason)`` is called for a line that is not UTF-8 (it raises or counts); a
    file without any non-blank line is an ``InputError`` ("empty file").
    """
    try:
        handle = gzip.open(path, "rb") if is_gzip(path) else path.open("rb")  # noqa: SIM115
    except OSError as exc:
        raise InputError(path, f"cannot open: {exc.strerror or exc}") from exc
    content = False
    done = 0
    number = 0
    try:
        with handle:
            for number, raw in enumerate(handle, 1):  # noqa: B007 - used after the loop
                done += len(raw)
                if progress is not None and number % PROGRESS_EVERY == 0:
                    progress(done)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    content = True
                    bad(number, f"not valid UTF-8 (byte {exc.start} of the line)")
                    continue
                text = text.rstrip("\r\n")
                if number == 1:
                    text = text.removeprefix("\ufeff")
                if not text.strip():
                    continue
                content = True
                yield number, text
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(path, f"corrupt or truncated gzip stream: {exc}", line=number) from exc
    if progress is not None:
        progress(done)
    if not content:
        raise InputError(path, "empty file")
