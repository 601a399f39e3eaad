"""What a crawler keeps of a body it could not use (finsent.ingest.quarantine): the raw bytes and why,
private, with any password in the URL masked."""

from __future__ import annotations

import json
import stat

from finsent.ingest.quarantine import save_raw


def test_the_raw_body_and_its_reason_are_kept_private_and_masked(tmp_path):
    folder = tmp_path / "quarantine"
    path = save_raw(folder, source="board", ticker="005930", url="https://user:s3cret@naver.test/board?page=2",
                    body=b"<html>not a board", reason="no post table", details={"page": 2})
    assert path.read_bytes() == b"<html>not a board" and path.name.startswith("board_005930_")
    meta = json.loads(path.with_suffix(".meta.json").read_text())
    assert meta["reason"] == "no post table" and meta["bytes"] == 17 and meta["page"] == 2
    assert "s3cret" not in meta["url"] and "naver.test/board?page=2" in meta["url"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    assert not list(folder.glob("*.tmp"))
