"""What finsent writes to its logs, and how: where the CLI's lines go (``routing``: finsent's own on
standard error, the libraries' to a file), progress bars as log lines (``progress``), and the
passwords masked in every line, message and alert that could carry a URL (``redact``)."""
