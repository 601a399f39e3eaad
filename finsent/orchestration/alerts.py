"""Failure alerts: a failed task or DAG run tells the operator, by e-mail and by a webhook (Slack).

Every finsent DAG carries :class:`FailureAlert` as its ``on_failure_callback`` and in its tasks'
``default_args``: a task that fails for good (after its retries) sends one alert naming the DAG, the
task, the try, the logical date (None for a manual or asset-triggered run in Airflow 3) and the log
URL; a DAG run that fails sends one more with the reason. Off by default: nothing is sent until
``FINSENT_ALERT_EMAIL_TO`` or ``FINSENT_ALERT_WEBHOOK_URL`` is set (``finsent.config.AlertSettings``),
read when the callback runs, in the process that runs it (the worker for a task, the DAG processor
for a run). A delivery that fails is logged and never fails the callback: the task's own failure is
what Airflow records. Passwords in URLs and error texts are masked.

Imported at DAG parse time: only ``airflow.sdk``, the standard library and light finsent modules.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from airflow.sdk import BaseNotifier

from finsent.config import AlertSettings, load_alert_settings
from finsent.errors import FinsentError
from finsent.logs.redact import mask_urls

log = logging.getLogger(__name__)

_ERROR_CHARS = 2000  # the error's text in an alert: its start says what happened, the log the rest


@dataclass(frozen=True)
class Alert:
    """What one failure says."""

    dag_id: str
    task_id: str | None  # None: the DAG run as a whole
    try_number: int | None
    max_tries: int | None
    logical_date: str | None  # None: a manual or asset-triggered run (Airflow 3)
    run_id: str | None
    log_url: str | None
    error: str | None

    @property
    def subject(self) -> str:
        if self.task_id is None:
            return f"[finsent] DAG run failed: {self.dag_id} ({self.run_id})"
        tries = f" (try {self.try_number} of {self.max_tries + 1})" if self.max_tries is not None else ""
        return f"[finsent] task failed: {self.dag_id}.{self.task_id}{tries}"

    def text(self) -> str:
        lines = [self.subject, "", f"DAG:          {self.dag_id}", f"task:         {self.task_id or '-'}",
                 f"try:          {self.try_number if self.try_number is not None else '-'}",
                 f"logical date: {self.logical_date or 'None (a manual or asset-triggered run)'}",
                 f"run:          {self.run_id or '-'}", f"log:          {self.log_url or '-'}"]
        if self.error:
            lines += ["", "error:", self.error]
        return "\n".join(lines)


def _get(source: Any, name: str) -> Any:
    """``source[name]`` of a context, or ``source.name`` of an object; None when absent."""
    if isinstance(source, dict) or hasattr(source, "get"):
        try:
            return source.get(name)
        except (KeyError, TypeError, AttributeError):
            return None
    return getattr(source, name, None)


def _run_url(dag_id: str, run_id: str | None) -> str | None:
    """The run's page in the Airflow UI (for a DAG run's alert, which has no task)."""
    if not run_id:
        return None
    try:
        from airflow.sdk.configuration import conf

        base = conf.get("api", "base_url", fallback="http://localhost:8080/")
    except ImportError:  # an Airflow that moved it: no link rather than no alert
        return None
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}"


def alert_from_context(context: Any) -> Alert:
    """The alert of a task's or a DAG run's failure callback context (Airflow 3)."""
    ti, dag_run, dag = _get(context, "ti"), _get(context, "dag_run"), _get(context, "dag")
    dag_id = _get(ti, "dag_id") or _get(dag_run, "dag_id") or _get(dag, "dag_id") or "?"
    run_id = _get(ti, "run_id") or _get(dag_run, "run_id") or _get(context, "run_id")
    logical = _get(context, "logical_date") or _get(dag_run, "logical_date")
    reason = _get(context, "reason")
    exception = _get(context, "exception")
    task_id = _get(ti, "task_id") if reason is None else None  # a DAG run's context may carry its last ti
    error = str(exception) if exception is not None else (f"DAG run: {reason}" if reason else None)
    if task_id is None and ti is not None and _get(ti, "task_id"):
        error = f"{error or 'DAG run failed'}; last failed task: {_get(ti, 'task_id')}"
    log_url = _get(ti, "log_url") if task_id else _run_url(dag_id, run_id)
    return Alert(dag_id=dag_id, task_id=task_id, try_number=_get(ti, "try_number") if task_id else None,
                 max_tries=_get(ti, "max_tries") if task_id else None,
                 logical_date=logical.isoformat() if hasattr(logical, "isoformat") else logical,
                 run_id=run_id, log_url=log_url,
                 error=mask_urls(error)[:_ERROR_CHARS] if error else None)


def send_email(alert: Alert, settings: AlertSettings) -> None:
    """The alert as a plain-text e-mail through ``settings.smtp_url``."""
    parts = urlsplit(settings.smtp_url)
    scheme = parts.scheme.lower()
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = alert.subject, settings.email_from, ", ".join(
        settings.email_to)
    message.set_content(alert.text())
    port = parts.port or (465 if scheme == "smtps" else 587 if scheme == "smtp+starttls" else 25)
    connect = smtplib.SMTP_SSL if scheme == "smtps" else smtplib.SMTP
    extra = {"context": ssl.create_default_context()} if scheme == "smtps" else {}
    with connect(parts.hostname or "127.0.0.1", port, timeout=settings.timeout_s, **extra) as smtp:
        if scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)


def post_webhook(alert: Alert, settings: AlertSettings) -> None:
    """The alert as JSON to ``settings.webhook_url``: Slack's ``{"text": ...}``, or every field too."""
    body: dict[str, Any] = {"text": alert.text()}
    if settings.webhook_format == "json":
        body.update(asdict(alert))
    request = urllib.request.Request(settings.webhook_url or "", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:  # http(s) only: checked by config
        response.read()


def deliver(alert: Alert, settings: AlertSettings) -> list[str]:
    """Send ``alert`` to every configured channel; return those that took it. A channel that fails
    is logged (masked) and the others still go."""
    channels = ([("e-mail", send_email)] if settings.email_to else []) + (
        [("webhook", post_webhook)] if settings.webhook_url else [])
    delivered = []
    for name, send in channels:
        try:
            send(alert, settings)
            delivered.append(name)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            log.error("finsent alert by %s failed: %s", name, mask_urls(str(exc)))
    return delivered


class FailureAlert(BaseNotifier):
    """The failure callback of every finsent DAG and task (see the module doc)."""

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render (no templated fields); a DAG run's context may hold a DAG without a
        template environment (the serialized one of ``dag.test``), which rendering would fail on."""

    def notify(self, context: Any) -> None:
        try:
            settings = load_alert_settings()
        except FinsentError as exc:
            log.error("finsent alerts are misconfigured, none sent: %s", exc)
            return
        if not settings.enabled:
            return
        alert = alert_from_context(context)
        delivered = deliver(alert, settings)
        log.info("finsent alert %r sent by %s", alert.subject, ", ".join(delivered) or "nothing")
