"""Dataset names cannot point outside their folder; builds of one name take turns; files are private."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor

import pyarrow.parquet as pq
import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.errors import ConfigError
from finsent.names import inside
from tests.data.board import query
from tests.ml.board import make_board


@pytest.mark.parametrize("name", ["..", ".", "../x", "a/b", "/tmp/x", ".hidden", "x" * 65, "a..b", ""])
def test_a_bad_dataset_name_is_refused_before_anything_is_touched(engine, name):
    data_dir = load_settings().data_dir
    (data_dir / "postgres").mkdir(parents=True)
    keep = data_dir / "postgres" / "PG_VERSION"
    keep.write_text("18")
    other = data_dir / "datasets" / "other"
    other.mkdir(parents=True)
    (other / "manifest.json").write_text("{}")
    with pytest.raises(ConfigError, match="dataset name"):
        build_dataset(engine, name, DatasetSpec(rules=()), data_dir)
    assert main(["dataset", "build", "--rules=none", name]) == 2
    assert keep.read_text() == "18" and (other / "manifest.json").exists()  # nothing else was touched
    assert query(engine, "SELECT count(*) FROM datasets") == [(0,)]


def test_paths_are_checked_to_stay_inside_their_folder(tmp_path):
    assert inside(tmp_path, tmp_path / "a" / "b") == (tmp_path / "a" / "b").resolve()
    for escape in (tmp_path, tmp_path / "..", tmp_path / "a" / ".." / ".."):
        with pytest.raises(ConfigError, match="not inside"):
            inside(tmp_path, escape)


def test_concurrent_builds_of_one_name_take_turns_and_agree_with_their_files(engine):
    make_board(engine, planted=True, sessions=40, per_session=8)
    data_dir = load_settings().data_dir
    specs = [DatasetSpec(rules=(), seed=seed, balance=True) for seed in (1, 2, 3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        summaries = [f.result() for f in [pool.submit(build_dataset, engine, "same", spec, data_dir, replace=True)
                                          for spec in specs]]
    folder = data_dir / "datasets" / "same"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["content_hash"] in {s.content_hash for s in summaries}
    for part, labels in manifest["counts"].items():
        assert pq.read_table(folder / f"{part}.parquet").num_rows == sum(labels.values())
    assert query(engine, "SELECT content_hash, rows FROM datasets WHERE name = 'same'") == [
        (manifest["content_hash"], manifest["rows"])]
    assert [p.name for p in (data_dir / "datasets").iterdir()] == ["same"]  # no staging folder left behind


def test_snapshot_files_are_private(engine):
    make_board(engine, planted=True, sessions=30, per_session=4)
    assert main(["dataset", "build", "private", "--rules", "none"]) == 0
    data_dir = load_settings().data_dir
    for path in [data_dir / "datasets", *(data_dir / "datasets").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))
