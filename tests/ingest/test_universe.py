"""``finsent tickers import``: a universe with membership ranges; ``FINSENT_TICKERS=all``; ``list --active``."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from finsent.cli import main
from finsent.config import DEFAULT_TICKERS, load_settings
from finsent.errors import ConfigError, InputError
from finsent.ingest.universe import import_universe
from finsent.tickers import active_tickers, selected_tickers, today_kst
from tests.ingest.helpers import count

TODAY = today_kst()
YESTERDAY = TODAY - timedelta(days=1)
UNIVERSE = f"""code,name,market,member_from,member_to
005930,삼성전자,KOSPI,,
111110,옛 구성 종목,KOSPI,2017-06-09,2019-12-12
222220,새 구성 종목,KOSDAQ,2020-06-12,
333330,두 번 들어온 종목,,2017-01-01,2018-06-14
333330,두 번 들어온 종목,,2021-06-11,{YESTERDAY}
"""


def write(tmp_path: Path, text: str, name: str = "universe.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def ranges(engine, code: str) -> list[tuple]:
    from finsent.db import raw_connection

    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT member_from, member_to FROM ticker_memberships WHERE ticker = %s ORDER BY 1 NULLS FIRST",
                    (code,))
        return cur.fetchall()


def test_import_stores_ranges_and_a_second_import_changes_nothing(engine, tmp_path):
    path = write(tmp_path, UNIVERSE)
    report = import_universe(engine, path)
    assert (report.tickers, report.added, report.ranges, report.members_today) == (4, 3, 5, 2)
    assert ranges(engine, "333330") == [(date(2017, 1, 1), date(2018, 6, 14)), (date(2021, 6, 11), YESTERDAY)]
    assert ranges(engine, "005930") == [(None, None)]
    assert count(engine, "SELECT count(*) FROM tickers WHERE code = '222220' AND market = 'KOSDAQ'") == 1
    again = import_universe(engine, path)
    assert (again.added, again.ranges, again.renamed) == (0, 5, [])
    assert count(engine, "SELECT count(*) FROM ticker_memberships") == 5


def test_the_file_is_the_truth_for_its_codes_only(engine, tmp_path):
    import_universe(engine, write(tmp_path, UNIVERSE))
    report = import_universe(engine, write(tmp_path, "code,name,member_from\n111110,새 이름,2018-01-02\n", "b.csv"))
    assert report.renamed == ["111110"]
    assert ranges(engine, "111110") == [(date(2018, 1, 2), None)]
    assert len(ranges(engine, "333330")) == 2  # not in the second file: kept


def test_active_means_a_member_today_and_tickers_without_ranges_are_always_members(engine, tmp_path):
    import_universe(engine, write(tmp_path, UNIVERSE))
    active = active_tickers(engine)
    assert "005930" in active and "222220" in active
    assert "111110" not in active and "333330" not in active  # left in 2019; left yesterday
    assert "000660" in active  # a seeded default without any range
    assert "111110" in active_tickers(engine, date(2019, 12, 12))  # member_to is inclusive
    assert "333330" not in active_tickers(engine, date(2019, 1, 1))  # between its two ranges


@pytest.mark.parametrize("bad_line, reason", [
    ("12345,짧은 코드,,,", "six digits"),
    ("444440,,,,", "name is empty"),
    ("444440,시장 오류,NYSE,,", "market 'NYSE'"),
    ("444440,날짜 오류,,2020-13-01,", "not a calendar date"),
    ("444440,날짜 오류,,2020/01/01,", "not a date YYYY-MM-DD"),
    ("444440,거꾸로,,2021-01-01,2020-01-01", "is after member_to"),
    ("444440,옛날,,1950-01-01,", "before the Korea Exchange"),
    ("333330,두 번 들어온 종목,,2018-01-01,2018-12-31", "overlaps the one on line 5"),
    ("333330,다른 이름,,2019-01-01,2019-12-31", "on line 5"),
    ("444440,필드 과다,KOSPI,,,덤", "expected"),
])
def test_a_bad_line_rejects_the_whole_file(engine, tmp_path, bad_line, reason):
    path = write(tmp_path, UNIVERSE + bad_line + "\n")
    before = count(engine, "SELECT count(*) FROM tickers")
    with pytest.raises(InputError) as error:
        import_universe(engine, path)
    assert f"{path}:7:" in str(error.value) and reason in str(error.value)
    assert count(engine, "SELECT count(*) FROM tickers") == before
    assert count(engine, "SELECT count(*) FROM ticker_memberships") == 0


def test_cli_import_list_active_and_exit_2_on_bad_input(engine, tmp_path, capsys, caplog):
    assert main(["tickers", "import", str(write(tmp_path, UNIVERSE))]) == 0
    assert "4 tickers (3 new), 5 membership ranges, 2 members today" in capsys.readouterr().out
    assert main(["tickers", "list", "--active"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == active_tickers(engine) and "111110" not in listed
    assert main(["tickers", "import", str(write(tmp_path, "code,name,colour\n005930,x,red\n", "bad.csv"))]) == 2
    assert "bad.csv:1: header must have code,name" in caplog.text and "unknown: colour" in caplog.text


def test_finsent_tickers_all_and_unset_after_an_import(engine, tmp_path, monkeypatch):
    monkeypatch.delenv("FINSENT_TICKERS", raising=False)
    assert selected_tickers(load_settings(), engine) == list(DEFAULT_TICKERS)  # nothing imported: the defaults
    monkeypatch.setenv("FINSENT_TICKERS", "all")
    assert selected_tickers(load_settings(), engine) == active_tickers(engine)  # no ranges: every known ticker
    import_universe(engine, write(tmp_path, UNIVERSE))
    members = active_tickers(engine)
    assert selected_tickers(load_settings(), engine) == members and "111110" not in members
    monkeypatch.delenv("FINSENT_TICKERS")
    assert selected_tickers(load_settings(), engine) == members
    monkeypatch.setenv("FINSENT_TICKERS", "111110")
    assert selected_tickers(load_settings(), engine) == ["111110"]  # named codes win


def test_all_with_no_member_today_is_a_config_error(engine, tmp_path, monkeypatch):
    import_universe(engine, write(tmp_path, "code,name,member_to\n"
                                  + "\n".join(f"{c},{n},2020-01-01" for c, n in DEFAULT_TICKERS.items()) + "\n"))
    monkeypatch.setenv("FINSENT_TICKERS", "all")
    with pytest.raises(ConfigError, match="no ticker is a member today"):
        selected_tickers(load_settings(), engine)
