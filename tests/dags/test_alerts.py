"""A failed task and a failed DAG run alert the operator by e-mail and webhook (issue 32), through
Airflow's own callback path: dag.test of a real finsent DAG whose task fails (its database is not
there), against an SMTP server and an HTTP receiver listening on 127.0.0.1, started here."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from finsent.config import load_alert_settings
from finsent.errors import ConfigError
from finsent.orchestration.alerts import Alert, alert_from_context


class SmtpReceiver(socketserver.ThreadingTCPServer):
    """Just enough of SMTP (RFC 5321) for a client to hand over mail; keeps what it got."""

    daemon_threads = allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.messages: list[tuple[str, list[str], bytes]] = []


class _SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 127.0.0.1 test SMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 127.0.0.1")
            elif verb == "MAIL":
                sender, recipients = line.decode().split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                body = b""
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body += data[1:] if data.startswith(b"..") else data
                self.server.messages.append((sender, recipients, body))  # type: ignore[attr-defined]
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.server.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))  # type: ignore
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receivers() -> Iterator[tuple[SmtpReceiver, ThreadingHTTPServer]]:
    smtp, hook = SmtpReceiver(), ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    hook.posts = []  # type: ignore[attr-defined]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (smtp, hook)]
    for thread in threads:
        thread.start()
    yield smtp, hook
    for server in (smtp, hook):
        server.shutdown()
        server.server_close()


def failing_label_dag(dagbag):
    """finsent_label as deployed (its default_args and DAG callback), one retry without delay, run
    against a database that is not there: its task fails on both tries."""
    dag = dagbag.get_dag("finsent_label")
    for task in dag.tasks:
        task.retries, task.retry_delay, task.retry_exponential_backoff = 1, timedelta(0), False
    return dag


def test_a_failed_task_and_run_alert_by_email_and_webhook(dagbag, receivers, monkeypatch, tmp_path):
    from airflow.utils.state import DagRunState

    smtp, hook = receivers
    monkeypatch.setenv("FINSENT_DATABASE_URL", "postgresql://finsent:secret-db-pw@127.0.0.1:1/finsent")
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FINSENT_ENV_FILE", str(tmp_path / "none.env"))
    for key in ("FINSENT_ALERT_EMAIL_TO", "FINSENT_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(key, raising=False)
    assert failing_label_dag(dagbag).test(logical_date=None).state == DagRunState.FAILED
    assert smtp.messages == [] and hook.posts == []  # off by default: nothing sent

    monkeypatch.setenv("FINSENT_ALERT_EMAIL_TO", "ops@example.org, oncall@example.org")
    monkeypatch.setenv("FINSENT_ALERT_EMAIL_FROM", "finsent@example.org")
    monkeypatch.setenv("FINSENT_ALERT_SMTP_URL", f"smtp://127.0.0.1:{smtp.server_address[1]}")
    monkeypatch.setenv("FINSENT_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{hook.server_address[1]}/hooks/T000/B000")
    monkeypatch.setenv("FINSENT_ALERT_WEBHOOK_FORMAT", "json")
    run = failing_label_dag(dagbag).test(logical_date=None)
    assert run.state == DagRunState.FAILED
    mails = [message_from_bytes(body, policy=policy.default) for _, _, body in smtp.messages]
    assert [m["Subject"] for m in mails] == ["[finsent] task failed: finsent_label.label_and_flag (try 2 of 2)",
                                             f"[finsent] DAG run failed: finsent_label ({run.run_id})"]
    assert all(rcpts == ["<ops@example.org>", "<oncall@example.org>"] for _, rcpts, _ in smtp.messages)
    task_mail = mails[0].get_content()
    for line in ("DAG:          finsent_label", "task:         label_and_flag", "try:          2",
                 "logical date: None (a manual or asset-triggered run)", f"run:          {run.run_id}",
                 "/dags/finsent_label/runs/", "/tasks/label_and_flag?try_number=2", "127.0.0.1"):
        assert line in task_mail, (line, task_mail)
    assert "last failed task: label_and_flag" in mails[1].get_content()
    task_post, run_post = hook.posts
    assert task_post["dag_id"] == "finsent_label" and task_post["task_id"] == "label_and_flag"
    assert task_post["try_number"] == 2 and task_post["logical_date"] is None
    assert task_post["log_url"].endswith("/tasks/label_and_flag?try_number=2")
    assert run_post["task_id"] is None and run_post["log_url"].endswith(f"/dags/finsent_label/runs/{quote(run.run_id)}")
    assert task_post["text"].startswith("[finsent] task failed") and "secret-db-pw" not in json.dumps(hook.posts)
    assert all(b"secret-db-pw" not in body for *_, body in smtp.messages)


def test_a_dead_receiver_does_not_break_the_callback(monkeypatch, tmp_path, caplog):
    from finsent.orchestration.alerts import deliver

    monkeypatch.setenv("FINSENT_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("FINSENT_ALERT_EMAIL_TO", "ops@example.org")
    monkeypatch.setenv("FINSENT_ALERT_SMTP_URL", "smtp://user:mail-pw@127.0.0.1:1")
    monkeypatch.setenv("FINSENT_ALERT_WEBHOOK_URL", "http://hook:hook-pw@127.0.0.1:1/x")
    alert = Alert("d", "t", 1, 0, None, "r", None, "boom")
    assert deliver(alert, load_alert_settings()) == []
    assert "alert by e-mail failed" in caplog.text and "alert by webhook failed" in caplog.text
    assert "mail-pw" not in caplog.text and "hook-pw" not in caplog.text


def test_bad_alert_settings_are_named_without_their_values(monkeypatch, tmp_path):
    monkeypatch.setenv("FINSENT_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("FINSENT_ALERT_WEBHOOK_URL", "ftp://u:pw-in-url@host/x")
    with pytest.raises(ConfigError, match="FINSENT_ALERT_WEBHOOK_URL must be a URL") as refused:
        load_alert_settings()
    assert "pw-in-url" not in str(refused.value)
    monkeypatch.delenv("FINSENT_ALERT_WEBHOOK_URL")
    monkeypatch.setenv("FINSENT_ALERT_EMAIL_TO", "not-an-address")
    with pytest.raises(ConfigError, match="not an e-mail address"):
        load_alert_settings()


def test_a_run_context_without_a_task_still_says_what_failed():
    alert = alert_from_context({"dag": None, "run_id": "manual__x", "reason": "task_failure", "logical_date": None})
    assert alert.task_id is None and alert.error == "DAG run: task_failure" and alert.logical_date is None
    assert "logical date: None" in alert.text()
