"""Shared by the benchmarks: a scratch database and a result table."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from finsent.db import embedded_server_url, normalise_url, stop_embedded_server, upgrade
from finsent.tickers import seed_default_tickers


@contextmanager
def scratch_database(url: str | None) -> Iterator[sa.Engine]:
    """A fresh migrated database on ``url``'s server (default: an embedded Postgres in a temp dir)."""
    temp_dir = None
    if url is None:
        temp_dir = tempfile.mkdtemp(prefix="finsent-bench-")
        os.chmod(temp_dir, 0o755)
        admin_url = embedded_server_url(Path(temp_dir) / "pg", database="postgres")
    else:
        admin_url = normalise_url(url)
    name = f"finsent_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.engine.make_url(admin_url).set(database=name))
    try:
        upgrade(engine)
        seed_default_tickers(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if temp_dir:
            stop_embedded_server(Path(temp_dir) / "pg")
            shutil.rmtree(temp_dir, ignore_errors=True)


def peak_memory_mib(device: str) -> float:
    """The peak memory so far: of the GPU (torch's allocator) on CUDA, else this process's peak RSS."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def in_fresh_process(function, *args):
    """``function(*args)`` in a spawned process (its own peak memory, its own imports)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


@dataclass
class Result:
    name: str
    items: int
    seconds: float
    unit: str
    note: str = ""

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def print_table(title: str, results: list[Result], reference: str | None = None) -> None:
    ref = next((r for r in results if r.name == reference), None)
    print(f"\n{title}")
    header = f"{'what':52s} {'items':>9s} {'seconds':>8s} {'rate':>14s} {'vs ' + (reference or '-'):>16s}  note"
    print(header)
    print("-" * len(header))
    for r in results:
        versus = f"{r.rate / ref.rate:.2f}x" if ref else ""
        print(f"{r.name:52s} {r.items:9d} {r.seconds:8.3f} {r.rate:10,.0f} {r.unit:>3s} {versus:>16s}  {r.note}")
