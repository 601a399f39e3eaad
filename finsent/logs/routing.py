"""Where the CLI's log lines go: finsent's own on standard error, the libraries' to a file.

finsent's loggers (``finsent.*``) and any error write to stderr, one line each. Everything else
at INFO and above (MLflow's store migrations and signature warnings, its "Successfully registered
model" prints, Python warnings of any library) goes to ``FINSENT_DATA_DIR/logs/cli.log`` (0600),
with finsent's own lines beside them for context; the command ends with one line naming the file
when it wrote any. MLflow's artifact progress bars are off. ``-v`` shows everything on stderr.
Every line, in both places, has its URLs' passwords masked.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from pathlib import Path

from finsent.logs.redact import MaskingFormatter
from finsent.names import private_folder

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_NAME = "cli.log"
DIVERTED_ENV = "FINSENT_LIBRARY_LOG"  # set while library noise goes to the file: MLflow's prints follow it


class _Ours(logging.Filter):
    """finsent's own records, and every error, for the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.startswith("finsent") or record.levelno >= logging.ERROR


class _Counted(logging.FileHandler):
    """The file handler, counting the library records it took (the closing line's count). The folder
    and the file (0600) appear with the first library record, finsent's earlier lines written before it:
    a command that fails on its input leaves nothing behind."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)
        self.library = 0
        self.pending: deque[logging.LogRecord] = deque(maxlen=200)

    def _create(self) -> None:
        """The 0700 folder and the 0600 file, before logging's own delayed open appends to it."""
        path = Path(self.baseFilename)
        private_folder(path.parent)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(handle, 0o600)
        os.close(handle)

    def emit(self, record: logging.LogRecord) -> None:
        ours = record.name.startswith("finsent")
        if self.stream is None:
            if ours:  # kept for context until a library line opens the file
                self.pending.append(record)
                return
            try:
                self._create()
            except OSError:  # an unwritable data folder: the command reports what it needs itself
                return
            while self.pending:
                super().emit(self.pending.popleft())
        if not ours:
            self.library += 1
        super().emit(record)


def configure(verbose: bool, data_dir: Path | None, divert: bool = True) -> _Counted | None:
    """Set up the CLI's logging; the file handler (None: everything on stderr, as with ``-v``, and for
    ``finsent stack``, whose processes log to their own files and must not inherit these settings).
    A program that configured logging itself (one calling ``finsent.cli.main``, a test) keeps its own."""
    if logging.getLogger().handlers:
        return None
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setFormatter(MaskingFormatter(FORMAT))
    handlers: list[logging.Handler] = [terminal]
    library_file = None
    if divert and not verbose and data_dir is not None:
        library_file = _Counted(data_dir / "logs" / LOG_NAME)
    if library_file is not None:
        terminal.addFilter(_Ours())
        library_file.setFormatter(MaskingFormatter(FORMAT))
        handlers.append(library_file)
        os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")  # its loggers propagate here
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        os.environ[DIVERTED_ENV] = str(library_file.baseFilename)
        logging.captureWarnings(True)  # warnings.warn of any library: logger py.warnings, to the file
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers)
    return library_file


def report(library_file: _Counted | None) -> None:
    """The closing line: how many library lines went to the file, and where."""
    if library_file is not None and library_file.library:
        logging.getLogger("finsent").info("%d library message(s) (MLflow, warnings) in %s", library_file.library,
                                          library_file.baseFilename)


class _LoggerStream:
    """A text stream whose lines become records of a logger (MLflow's ``eprint`` writes to one)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger, self.buffer = logger, ""

    def write(self, text: str) -> int:
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            if line.strip():
                self.logger.info("%s", line)
        return len(text)

    def flush(self) -> None:
        pass


def quiet_mlflow_prints() -> None:
    """While the CLI sends library noise to its file, MLflow's direct prints (``eprint``: "Successfully
    registered model ...") go there too, as records of the logger ``mlflow``."""
    if not os.environ.get(DIVERTED_ENV):
        return
    from mlflow.utils import logging_utils

    logging_utils.MLFLOW_LOGGING_STREAM = _LoggerStream(logging.getLogger("mlflow"))
