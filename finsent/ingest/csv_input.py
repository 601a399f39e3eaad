"""Reading a CSV input exactly once: a file, a named pipe or standard input (``-``).

The first pass (validation) copies the bytes it reads into a private temporary file (0600,
unlinked at once); the write pass reads that copy. What is written is therefore exactly what was
validated, even if the file is replaced or rewritten meanwhile, and a pipe or a FIFO, which can be
read only once, works like a file. Lines are decoded one by one, so an invalid UTF-8 byte is
reported on its own line, not somewhere near it.
"""

from __future__ import annotations

import csv
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from finsent.errors import InputError

STDIN = "-"
MAX_REPORTED = 10  # bad lines listed in one rejection; the file is refused whole either way
_BOM = b"\xef\xbb\xbf"
# A carriage return not followed by a newline ends a line too (old Mac files); split there.
_BARE_CR = re.compile(r"(?<=\r)(?!\n)")
_FIELD_LIMIT = csv.field_size_limit()


class CsvInput:
    """One CSV input with a required and an optional set of header columns; use as a context manager."""

    def __init__(self, path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
        self.path = path
        self.required = required
        self.optional = optional
        self.name = "<stdin>" if str(path) == STDIN else str(path)
        self.label = "stdin" if str(path) == STDIN else path.name  # for the run record and the report
        self._spool: IO[bytes] | None = None
        self._started = False
        self._complete = False  # the copy holds the whole input

    def __enter__(self) -> CsvInput:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._spool is not None:
            self._spool.close()

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(line number, record) pairs, the header checked first; a malformed row is a record with
        only ``__error__``. The first call reads the input, every later one the copy of it."""
        if not self._started:
            self._started = True
            return self._records(self._read_source())
        if self._spool is None or not self._complete:
            raise RuntimeError(f"{self.name}: the first pass stopped before the end of the input")
        self._spool.seek(0)
        return self._records(self._decoded(self._spool))

    def _read_source(self) -> Iterator[str]:
        if str(self.path) == STDIN:
            source, close = sys.stdin.buffer, False
        else:
            try:
                source, close = self.path.open("rb"), True
            except OSError as exc:
                raise InputError(f"{self.path}: cannot read ({exc.strerror})") from None
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 -- read again by the write pass; closed on exit
        try:
            yield from self._decoded(source, self._spool)
            self._complete = True
        finally:
            if close:
                source.close()

    def _decoded(self, raw_lines: Iterable[bytes], copy_to: IO[bytes] | None = None) -> Iterator[str]:
        """The lines decoded one by one (each written to ``copy_to`` first, when given)."""
        number = 0  # lines handed to the csv reader so far: its own line_num
        for raw in raw_lines:
            if copy_to is not None:
                copy_to.write(raw)
            if number == 0 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{self.name}:{number + 1}: not UTF-8 (byte {raw[exc.start]:#04x}: {exc.reason}); "
                                 "save the file as UTF-8 (cp949/EUC-KR files need converting); nothing "
                                 "imported") from None
            if "\r" in text and text.find("\r", 0, len(text) - 2) >= 0:  # a bare CR inside: old Mac line ends
                for piece in _BARE_CR.split(text):
                    if piece:
                        number += 1
                        yield piece
                continue
            number += 1
            yield text

    def _records(self, lines: Iterator[str]) -> Iterator[tuple[int, dict[str, str]]]:
        # strict: a stray or unclosed quote is an error, not a field that swallows the next rows
        reader = csv.reader(lines, strict=True)
        try:
            header = [c.strip() for c in next(reader, [])]
        except csv.Error as exc:
            raise InputError(f"{self.name}:1: unreadable header ({exc})") from None
        self._check_header(header)
        start = reader.line_num + 1  # a quoted field may span lines: report where a row starts
        try:
            for fields in reader:
                line, start = start, reader.line_num + 1
                # Trailing optional fields may be left off; anything else is a malformed row.
                if len(fields) > len(header) or len(fields) < len(self.required):
                    yield line, {"__error__": f"expected {len(self.required)} to {len(header)} fields, "
                                              f"got {len(fields)}"}
                elif any("\x00" in field for field in fields):
                    yield line, {"__error__": "a NUL byte (binary data in a text file?)"}
                else:
                    yield line, dict(zip(header, fields))
        except csv.Error as exc:
            raise InputError(self._malformed(start, reader.line_num, exc)) from None

    def _check_header(self, header: list[str]) -> None:
        missing = [c for c in self.required if c not in header]
        unknown = [c for c in header if c not in self.required + self.optional]
        twice = sorted({c for c in header if header.count(c) > 1})
        if missing or unknown or twice:
            raise InputError(
                f"{self.name}:1: header must have {','.join(self.required)}"
                + (f" and may have {','.join(self.optional)}" if self.optional else "")
                + " (each once)"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; more than once: {', '.join(twice)}" if twice else "")
            )

    def _malformed(self, start: int, reached: int, exc: csv.Error) -> str:
        if "field larger than field limit" in str(exc):
            spans = f" (the row runs from line {start} to {reached}: or a quote that never closes)" if reached > start \
                else ""
            return (f"{self.name}:{start}: field too long: more than {_FIELD_LIMIT:,} characters{spans}; "
                    "nothing imported")
        # The row that starts at ``start`` is the one whose quoting broke (an unclosed quote reads on
        # to the end of the file, so the reader's own line number says little).
        return (f"{self.name}:{start}: malformed CSV row ({exc}): a quote that never closes or a stray quote "
                "inside a field; nothing imported")


def refuse_rejected(name: str, errors: list[str], rows: int) -> None:
    """InputError (exit 2, nothing written) listing ``errors``, or saying the file had no data rows."""
    if errors:
        raise InputError("rejected, nothing imported:\n  " + "\n  ".join(errors))
    if not rows:
        raise InputError(f"{name}: no data rows, nothing imported")
