"""The soak (issue 32): simulated days of the DAGs on the loopback Naver, faults injected every day.

    python bench/soak.py [--days 20] [--tickers 4] [--json PATH] [--database-url URL] [--tiny]

Day 0 is a history (about five months of a board and news with a planted signal, and prices):
``finsent_ingest`` and ``finsent_label`` run on it, ``finsent_train`` fits the baseline once per
source (board posts, news headlines: the champions for the whole soak) and ``finsent_score``
scores them. Each simulated day then moves the loopback's world one session on (a bar per stock,
the day's posts and news), arms that day's fault(s) (bench/soak_days.py: 5xx and drops, a slow
host, a worker killed mid-task, Postgres restarting under a task, a price history rewrite, a
poisoned title, a session the feed no longer lists; all seven in turn, more than one a day when
there are fewer than seven days), runs ``finsent_ingest`` (an incremental run, as a scheduled one
on the day itself is), ``finsent_label`` and ``finsent_score`` with ``dag.test()`` (tasks keep
their retries, with a 1 s delay instead of minutes), then checks: posts, news and prices in
Postgres exactly what the loopback serves (nothing lost, nothing duplicated; a record the
quarantine refused left out while it is missing), every run SUCCESS after its retries, no crawl
run left running, every post and article scored, and both daily indexes (board, news) equal to a
rebuild. It prints a table (day, faults, runs, retries, rows checked, result) and exits 1 when any
day failed.

Airflow runs from a throwaway AIRFLOW_HOME with a sqlite metadata database; MLflow is the data
folder's sqlite store; Postgres is a scratch database on FINSENT_DATABASE_URL's server (default:
an embedded one). Why bench/ and not finsent/: it is a harness around the product (it needs the
loopback, a scratch database and dag.test), like the benchmarks, run by ``make soak``; the suite
runs it small (tests/bench/test_soak.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import scratch_database  # noqa: E402
from bench.soak_days import (  # noqa: E402
    FAULTS,
    Day,
    check_data,
    check_index,
    check_runs,
    refused,
    run_beside,
    still_missing,
)
from finsent.loopback.content import KRX_HOLIDAYS  # noqa: E402

log = logging.getLogger("soak")
URL_KEYS = ("FINSENT_NAVER_BOARD_URL", "FINSENT_NAVER_PRICE_URL", "FINSENT_NAVER_LEGACY_URL", "FINSENT_NAVER_API_URL",
            "FINSENT_NAVER_NEWS_URL", "FINSENT_NAVER_COMMENTS_URL")
TICKERS = {"005930": "삼성전자", "000660": "SK하이닉스", "051910": "LG화학", "005380": "현대차"}
TIMEOUT_S, HTTP_RETRIES = 2.0, 2


def sessions_before(today: date, n: int) -> list[date]:
    """The last ``n`` KRX sessions before ``today`` (weekdays that are not holidays), oldest first."""
    days, day = [], today
    while len(days) < n:
        day -= timedelta(days=1)
        if day.weekday() < 5 and day not in KRX_HOLIDAYS:
            days.append(day)
    return days[::-1]


def airflow_home(data: Path) -> None:
    """A throwaway Airflow: set before Airflow is first imported, migrated, with the naver pool."""
    home = data / "airflow"
    home.mkdir(parents=True)
    os.environ.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                       "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                       "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
                       "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"})
    for command in (["db", "migrate"], ["pools", "set", "naver", "2", "Naver politeness"]):
        done = subprocess.run([sys.executable, "-m", "airflow", *command], check=False, capture_output=True,
                              text=True, timeout=600)
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(command)}: {done.stderr[-2000:]}")


def load_dags() -> dict:
    """The four DAGs, each task retrying after 1 s (the DAGs' minutes would make a soak take days)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    dags = {name: bag.get_dag(f"finsent_{name}") for name in ("ingest", "label", "train", "score")}
    for dag in dags.values():
        for task in dag.tasks:
            task.retry_delay, task.retry_exponential_backoff = timedelta(seconds=1), False
    return dags


def run(dags: dict, name: str, **kwargs) -> tuple[bool, int, str]:
    """One DAG run: (green, retries taken, failed tasks)."""
    dag_run = dags[name].test(**kwargs)
    tis = dag_run.get_task_instances()
    retries = sum(max(0, (ti.try_number or 1) - 1) for ti in tis)
    failed = ", ".join(sorted(f"{ti.task_id}[{ti.map_index}]" for ti in tis if ti.state == "failed"))
    return str(dag_run.state) == "success", retries, failed


def make_world(tickers: dict[str, str], days: list[date], posts: int, history_days: int):
    """The loopback with ``history_days`` of history up to the day before the first simulated one."""
    from finsent.loopback import FakeNaver

    end = days[0] - timedelta(days=1)
    start = datetime.combine(end - timedelta(days=history_days), datetime.min.time())
    fake = FakeNaver(tickers=tickers, posts_per_ticker=posts, first_post_at=start,
                     post_spacing=timedelta(days=history_days) / posts, price_start=start.date() - timedelta(days=60),
                     price_end=end, stories_per_ticker=max(1, posts // 5))
    fake.plant_signal(0.9)
    fake.plant_news_signal(0.9)
    return fake


def champions(dags: dict, notes: list[str]) -> dict[str, int]:
    """Fit the baseline once per source (finsent_train: board posts, news headlines); the champions
    for the whole soak. When the promotion rule refuses one (too little history to show skill), it is
    made champion by hand, and said so."""
    from mlflow import MlflowClient

    from finsent.config import load_settings
    from finsent.ml.registry import model_name, tracking_uri

    client, found = MlflowClient(tracking_uri(load_settings())), {}
    for source in ("board", "news"):
        green, retries, failed = run(dags, "train", run_conf={"model": "baseline", "rules": "none", "source": source})
        model = model_name(source)
        aliases = client.get_registered_model(model).aliases
        if "champion" not in aliases:
            client.set_registered_model_alias(model, "champion", aliases["challenger"])
            notes.append(f"{model} v{aliases['challenger']} not promoted by the rule: made champion by hand")
        notes.append(f"train {source} {'ok' if green else 'FAILED ' + failed}, {retries} retries")
        found[source] = int(client.get_registered_model(model).aliases["champion"])
    return found


def faults_of(index: int, days: int) -> list[str]:
    """Day ``index`` (1-based)'s faults: the kinds in turn, ceil(kinds / days) a day when there are fewer days."""
    kinds, per_day = list(FAULTS), max(1, math.ceil(len(FAULTS) / days))
    return [kinds[((index - 1) * per_day + j) % len(kinds)] for j in range(per_day)]


def one_day(dags: dict, fake, engine, index: int, day: date | None, faults: list[str], versions: dict[str, int],
            settings) -> dict:
    """Advance the world to ``day`` (None: day 0, the history), arm ``faults``, run the DAGs, check."""
    started, served = time.monotonic(), len(fake.faults_served)
    world = Day(fake, engine, list(fake.tickers), TIMEOUT_S, HTTP_RETRIES)
    # the killed worker's crawl runs while it is armed: first, before other faults queue on its path
    for fault in sorted(faults, key=lambda kind: kind != "killed worker"):
        FAULTS[fault](world)
    runs, retries, problems = [], 0, []
    for name in ("ingest", "label", "score"):
        body = (lambda n=name: run(dags, n, logical_date=None)) if name == "ingest" else (lambda n=name: run(dags, n))
        green, taken, failed = run_beside(world.during if name == "ingest" else None, body)
        runs.append(f"{name} {'ok' if green else 'FAILED'}")
        retries += taken
        if not green:
            problems.append(f"{name}: failed tasks {failed}")
        if name == "label" and not versions:  # day 0: the champions are trained once, before scoring
            versions = champions(dags, world.notes)
    engine.dispose()  # a terminated backend may be pooled here too
    rows = check_data(engine, fake, settings.quarantine_dir, problems)
    rows += sum(check_index(engine, source, version, problems) for source, version in versions.items())
    statuses = check_runs(engine, problems)
    quarantined = len(refused(settings.quarantine_dir, "naver-mobile") | refused(settings.quarantine_dir, "naver-news"))
    return {"day": index, "date": str(day) if day else "history", "faults": faults, "notes": world.notes,
            "faults_served": len(fake.faults_served) - served, "quarantined": quarantined, "crawl_runs": statuses,
            "refused_posts_missing": still_missing(engine, settings.quarantine_dir),
            "runs": runs, "retries": retries, "rows_checked": rows, "problems": problems,
            "seconds": round(time.monotonic() - started, 1), "versions": versions}


def table(rows: list[dict]) -> str:
    lines = ["| day | date | fault(s) | faulty answers | runs | retries | rows checked | quarantined (missing) "
             "| result | s |",
             "|---:|---|---|---:|---|---:|---:|---:|---|---:|"]
    for r in rows:
        result = "ok" if not r["problems"] else "FAILED: " + "; ".join(r["problems"])
        lines.append(f"| {r['day']} | {r['date']} | {', '.join(r['faults']) or '-'} | {r['faults_served']} | "
                     f"{', '.join(r['runs'])} | {r['retries']} | {r['rows_checked']:,} | {r['quarantined']} "
                     f"({r['refused_posts_missing']}) | "
                     f"{result} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def soak(args: argparse.Namespace, data: Path) -> list[dict]:
    from finsent.config import load_settings

    tickers = dict(list(TICKERS.items())[: args.tickers])
    days = sessions_before(date.today(), args.days)
    with scratch_database(args.database_url) as engine:
        os.environ["FINSENT_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        with make_world(tickers, days, args.history_posts, args.history_days) as fake:
            os.environ.update(dict.fromkeys(URL_KEYS, fake.base_url))
            os.environ.update({"FINSENT_TICKERS": ",".join(tickers),
                               # the first crawl walks back to the history's first post
                               "FINSENT_BACKFILL_DAYS": str((date.today() - days[0]).days + args.history_days + 10)})
            settings = load_settings()
            dags = load_dags()
            rows = [one_day(dags, fake, engine, 0, None, [], {}, settings)]
            versions = rows[0]["versions"]
            for index, day in enumerate(days, start=1):
                fake.advance_session(day, args.posts_per_day, args.stories_per_day)
                rows.append(one_day(dags, fake, engine, index, day, faults_of(index, len(days)), versions, settings))
                log.info("day %d (%s): %s", index, day, rows[-1]["problems"] or "ok")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--tickers", type=int, default=4, choices=range(1, len(TICKERS) + 1))
    parser.add_argument("--history-days", type=int, default=150)
    parser.add_argument("--history-posts", type=int, default=1350, help="posts per stock over the history")
    parser.add_argument("--posts-per-day", type=int, default=60, help="new posts per stock and simulated day")
    parser.add_argument("--stories-per-day", type=int, default=4, help="new news stories per stock and day")
    parser.add_argument("--database-url", default=os.environ.get("FINSENT_DATABASE_URL"),
                        help="a Postgres server to make a scratch database on (default: an embedded one)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--tiny", action="store_true", help="3 days, 2 stocks, a smaller history (the suite's size)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.days, args.tickers, args.history_posts, args.posts_per_day, args.stories_per_day = 3, 2, 1000, 15, 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data = Path(tempfile.mkdtemp(prefix="finsent-soak-"))
    os.environ.update({"FINSENT_DATA_DIR": str(data / "data"), "FINSENT_ENV_FILE": str(data / "none.env"),
                       "FINSENT_CRAWL_DELAY_S": "0", "FINSENT_RETRY_BACKOFF_S": "0.01",
                       "FINSENT_HTTP_TIMEOUT_S": str(TIMEOUT_S), "FINSENT_HTTP_RETRIES": str(HTTP_RETRIES)})
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    airflow_home(data)
    started = time.monotonic()
    rows = soak(args, data)
    print(f"\nsoak: {args.days} day(s), {args.tickers} stock(s), {time.monotonic() - started:.0f} s\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    return 1 if any(r["problems"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
