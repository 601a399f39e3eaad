"""All configuration in one place: ``FINSENT_*`` environment variables, optionally from a ``.env`` file.

Every setting is documented in docs/configuration.md. Environment variables win over ``.env``; ``.env`` is
read from the working directory (or ``FINSENT_ENV_FILE``) and never overrides the real environment.
Between the two: ``FINSENT_DATA_DIR/run/cli.env``, which ``finsent stack up`` writes while a stack
runs on that folder (its MLflow server, the demo's board).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from finsent.errors import ConfigError
from finsent.logs.redact import without_credentials

# The study's universe: the 20 largest KOSPI common stocks at the end of 2022, leaving out
# those listed after 2017 and preferred shares (SOURCES.md section 4).
DEFAULT_TICKERS: dict[str, str] = {
    "005930": "삼성전자",
    "207940": "삼성바이오로직스",
    "000660": "SK하이닉스",
    "051910": "LG화학",
    "006400": "삼성SDI",
    "005380": "현대차",
    "000270": "기아",
    "035420": "NAVER",
    "035720": "카카오",
    "005490": "POSCO홀딩스",
    "068270": "셀트리온",
    "105560": "KB금융",
    "028260": "삼성물산",
    "055550": "신한지주",
    "012330": "현대모비스",
    "096770": "SK이노베이션",
    "032830": "삼성생명",
    "066570": "LG전자",
    "015760": "한국전력",
    "003670": "포스코퓨처엠",
}


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        if "=" not in line:
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


# Written by `finsent stack up` under FINSENT_DATA_DIR/run (removed by `down`): the stack's MLflow
# server and the settings it was started with, so the CLI on that data folder talks to the stack.
STACK_CLI_SETTINGS = Path("run") / "cli.env"
_NOT_FROM_STACK = ("FINSENT_DATA_DIR", "FINSENT_ENV_FILE")  # they choose the folder: never from inside it


def _environ() -> dict[str, str]:
    """.env, then the settings of a stack running on the data folder, then the real environment."""
    env_file = _read_env_file(Path(os.environ.get("FINSENT_ENV_FILE", ".env")))
    data_dir = os.environ.get("FINSENT_DATA_DIR") or env_file.get("FINSENT_DATA_DIR") or "~/.finsent"
    stack = _read_env_file(Path(data_dir).expanduser() / STACK_CLI_SETTINGS)
    return {**env_file, **{k: v for k, v in stack.items() if k not in _NOT_FROM_STACK}, **os.environ}


_N = TypeVar("_N", int, float)


def _number(env: dict[str, str], key: str, default: _N, minimum: _N, kind: Callable[[str], _N], what: str) -> _N:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not {what}") from None
    if value < minimum:
        raise ConfigError(f"{key}={raw!r} must be >= {minimum}")
    return value


def _float(env: dict[str, str], key: str, default: float, minimum: float = 0.0) -> float:
    return _number(env, key, default, minimum, float, "a number")


def _int(env: dict[str, str], key: str, default: int, minimum: int = 0) -> int:
    return _number(env, key, default, minimum, int, "an integer")


def parse_ticker_list(raw: str) -> list[str]:
    """``"005930, 000660"`` -> ``["005930", "000660"]`` (order kept, duplicates dropped)."""
    codes: list[str] = []
    for part in raw.replace(";", ",").split(","):
        code = part.strip()
        if code and code not in codes:
            codes.append(code)
    return codes


DEFAULT_NAVER_POOL_SLOTS = 2


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    tickers: list[str]
    naver_board_url: str
    naver_price_url: str
    naver_legacy_url: str
    naver_api_url: str
    crawl_delay_s: float
    backfill_days: int
    http_timeout_s: float
    http_retries: int
    retry_backoff_s: float
    user_agent: str
    mlflow_ui_url: str
    robots: str = "obey"  # FINSENT_ROBOTS: obey | ignore
    mlflow_tracking_uri: str | None = None  # MLFLOW_TRACKING_URI (None: the sqlite store in data_dir)
    # where ``tickers`` came from: "env" (FINSENT_TICKERS codes), "all" (FINSENT_TICKERS=all: today's
    # members, resolved against the database by finsent.tickers.selected_tickers) or "default" (unset)
    tickers_source: str = "env"
    naver_news_url: str = "https://m.stock.naver.com"  # FINSENT_NAVER_NEWS_URL: per-stock news (SOURCES.md 3b)
    # FINSENT_NAVER_COMMENTS_URL: Naver's comment service (CBOX, SOURCES.md 1b)
    naver_comments_url: str = "https://apis.naver.com"
    # FINSENT_NAVER_POOL_SLOTS: crawl tasks at once (the Airflow `naver` pool's size). They share the
    # per-host clock, so more slots hide latency and task start-up, never exceed FINSENT_CRAWL_DELAY_S.
    naver_pool_slots: int = DEFAULT_NAVER_POOL_SLOTS
    # FINSENT_HTTP_MAX_WAIT_S: the longest a request waits for its host (a 429's Retry-After, or the
    # shared clock another process's 429 pushed out); beyond it the ticker fails soft, for a later run.
    http_max_wait_s: float = 120.0

    @property
    def ignore_robots(self) -> bool:
        return self.robots == "ignore"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "postgres"


DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


ROBOTS_CHOICES = ("obey", "ignore")


def _robots(env: dict[str, str]) -> str:
    value = (env.get("FINSENT_ROBOTS") or "obey").strip().lower()
    if value not in ROBOTS_CHOICES:
        raise ConfigError(f"FINSENT_ROBOTS={env.get('FINSENT_ROBOTS')!r} must be obey or ignore")
    return value


def naver_pool_slots(env: dict[str, str] | None = None) -> int:
    """FINSENT_NAVER_POOL_SLOTS alone: DAG files read it at parse time without the other settings."""
    return _int(_environ() if env is None else env, "FINSENT_NAVER_POOL_SLOTS", DEFAULT_NAVER_POOL_SLOTS, minimum=1)


def load_settings() -> Settings:
    """Read the settings now (not at import), so tests and CLIs can change the environment."""
    env = _environ()
    raw_tickers = env.get("FINSENT_TICKERS", "")
    if raw_tickers.strip().lower() == "all":
        tickers, tickers_source = [], "all"
    else:
        tickers = parse_ticker_list(raw_tickers)
        tickers_source = "env" if tickers else "default"
        tickers = tickers or list(DEFAULT_TICKERS)
    return Settings(
        database_url=env.get("FINSENT_DATABASE_URL") or None,
        data_dir=Path(env.get("FINSENT_DATA_DIR") or "~/.finsent").expanduser().resolve(),
        tickers=tickers,
        naver_board_url=env.get("FINSENT_NAVER_BOARD_URL", "https://m.stock.naver.com").rstrip("/"),
        naver_price_url=env.get("FINSENT_NAVER_PRICE_URL", "https://fchart.stock.naver.com").rstrip("/"),
        naver_legacy_url=env.get("FINSENT_NAVER_LEGACY_URL", "https://finance.naver.com").rstrip("/"),
        naver_api_url=env.get("FINSENT_NAVER_API_URL", "https://api.finance.naver.com").rstrip("/"),
        crawl_delay_s=_float(env, "FINSENT_CRAWL_DELAY_S", 1.0),
        backfill_days=_int(env, "FINSENT_BACKFILL_DAYS", 30, minimum=1),
        http_timeout_s=_float(env, "FINSENT_HTTP_TIMEOUT_S", 20.0, minimum=0.1),
        http_retries=_int(env, "FINSENT_HTTP_RETRIES", 5),
        retry_backoff_s=_float(env, "FINSENT_RETRY_BACKOFF_S", 1.0),
        user_agent=env.get("FINSENT_USER_AGENT") or DEFAULT_USER_AGENT,
        # links the page and the Airflow UI render: credentials in it would be shown to every viewer
        mlflow_ui_url=without_credentials((env.get("FINSENT_MLFLOW_UI_URL") or "http://127.0.0.1:5000").rstrip("/")),
        robots=_robots(env),
        mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI") or None,
        tickers_source=tickers_source,
        naver_news_url=env.get("FINSENT_NAVER_NEWS_URL", "https://m.stock.naver.com").rstrip("/"),
        naver_pool_slots=naver_pool_slots(env),
        naver_comments_url=env.get("FINSENT_NAVER_COMMENTS_URL", "https://apis.naver.com").rstrip("/"),
        http_max_wait_s=_float(env, "FINSENT_HTTP_MAX_WAIT_S", 120.0),
    )


# -- alerts ---------------------------------------------------------------------------------------

ALERT_SMTP_SCHEMES = ("smtp", "smtps", "smtp+starttls")
ALERT_WEBHOOK_FORMATS = ("slack", "json")


@dataclass(frozen=True)
class AlertSettings:
    """Where a failed task or DAG run is reported (``finsent.orchestration.alerts``). Off by default:
    nothing is sent unless FINSENT_ALERT_EMAIL_TO or FINSENT_ALERT_WEBHOOK_URL is set."""

    email_to: tuple[str, ...] = ()  # FINSENT_ALERT_EMAIL_TO: comma-separated addresses
    email_from: str = "finsent@localhost"  # FINSENT_ALERT_EMAIL_FROM
    # FINSENT_ALERT_SMTP_URL: smtp://[user:password@]host[:port] (smtps:// TLS, smtp+starttls:// STARTTLS)
    smtp_url: str = "smtp://127.0.0.1:25"
    webhook_url: str | None = None  # FINSENT_ALERT_WEBHOOK_URL: a Slack incoming webhook, or any URL taking JSON
    webhook_format: str = "slack"  # FINSENT_ALERT_WEBHOOK_FORMAT: slack ({"text"}) or json (every field too)
    timeout_s: float = 10.0  # FINSENT_ALERT_TIMEOUT_S: per delivery

    @property
    def enabled(self) -> bool:
        return bool(self.email_to or self.webhook_url)


def _alert_url(env: dict[str, str], key: str, schemes: tuple[str, ...], default: str | None) -> str | None:
    raw = (env.get(key) or "").strip()
    if not raw:
        return default
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.lower() not in schemes or not rest.strip("/"):
        # never the value itself: it may hold a password
        raise ConfigError(f"{key} must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return raw


def load_alert_settings() -> AlertSettings:
    """The alert settings now (a callback reads them when it runs, in the process that runs it)."""
    env = _environ()
    email_to = tuple(a for a in parse_ticker_list(env.get("FINSENT_ALERT_EMAIL_TO", "")) if a)
    bad = [a for a in email_to if "@" not in a or any(c.isspace() for c in a)]
    if bad:
        raise ConfigError(f"FINSENT_ALERT_EMAIL_TO: {bad[0]!r} is not an e-mail address")
    webhook_format = (env.get("FINSENT_ALERT_WEBHOOK_FORMAT") or "slack").strip().lower()
    if webhook_format not in ALERT_WEBHOOK_FORMATS:
        raise ConfigError(f"FINSENT_ALERT_WEBHOOK_FORMAT={webhook_format!r} must be slack or json")
    return AlertSettings(
        email_to=email_to,
        email_from=(env.get("FINSENT_ALERT_EMAIL_FROM") or "finsent@localhost").strip(),
        smtp_url=_alert_url(env, "FINSENT_ALERT_SMTP_URL", ALERT_SMTP_SCHEMES, "smtp://127.0.0.1:25") or "",
        webhook_url=_alert_url(env, "FINSENT_ALERT_WEBHOOK_URL", ("http", "https"), None),
        webhook_format=webhook_format,
        timeout_s=_float(env, "FINSENT_ALERT_TIMEOUT_S", 10.0, minimum=0.1),
    )
