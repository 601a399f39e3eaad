"""``finsent quality``: named data-quality rules, stored as flags per post (never deletions).

The rules are a transparent list (below), evaluated set-based in SQL. Each post is checked once
(``post_quality`` marks it and keeps its normalised title); ``--recheck`` evaluates everything
again after a rule changes. A learned filter can later add its own rule name beside these.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from importlib import import_module
from typing import TextIO

from sqlalchemy.engine import Engine

from finsent.data.sources import TEXT_SOURCES
from finsent.db import analyze_after_write, raw_connection, raw_transaction

log = logging.getLogger(__name__)

# Normalised title: NFKC, lower case, only Hangul / jamo / Hanja / ASCII letters and digits,
# runs of one character cut to one (ㅋㅋㅋㅋ -> ㅋ, 가즈아아아 -> 가즈아). Near-duplicates share it.
TITLE_NORM_SQL = (
    "regexp_replace(regexp_replace(lower(normalize(p.title, NFKC)), '[^0-9a-z가-힣ㄱ-ㅎㅏ-ㅣ一-龥]+', '', 'g'),"
    " '(.)\\1+', '\\1', 'g')"
)
# The body, normalised the same way (a copy-paste ad differs in spacing, emoji and ㅋㅋㅋ only).
BODY_NORM_SQL = TITLE_NORM_SQL.replace("p.title", "coalesce(p.body, '')")
MIN_BODY_COPY_CHARS = 30  # a shorter body ("좋아요", "ㅋㅋ 동감") repeats by chance
BODY_KEY_SQL = f"CASE WHEN length({BODY_NORM_SQL}) >= {MIN_BODY_COPY_CHARS} THEN md5({BODY_NORM_SQL}) END"
MIN_TITLE_CHARS = 2
# The duplicate rules skip normalised titles shorter than this: ㅋ, ㅎㅎ or 굿 repeat by chance, and
# a group of thousands of them is what made the duplicate check slow.
MIN_DUPLICATE_CHARS = 3

# Patterns are Postgres regular expressions (ARE: \y is a word boundary).
# Ads and spam, in title or body: phone numbers, messenger rooms, "leading room" (리딩방, not the
# 리딩뱅크 of the KB금융 and 신한지주 boards) and guaranteed-profit pitches.
SPAM_PATTERN = "|".join([
    # phone numbers: mobile (010-1234-5678, 01012345678), landline with separators (02 123 4567);
    # never digits inside a longer number or a news link's article id (/015/0005112233)
    r"(^|[^0-9/])(01[016789][-. ]?\d{3,4}[-. ]?\d{4}|0\d{1,2}[-. ]\d{3,4}[-. ]\d{4})([^0-9]|$)",
    r"open\.kakao|카톡|카카오톡|오픈채팅|텔레그램|텔레방|단톡|밴드방",
    r"리딩\s*방|리딩\s*(문의|모집|가입|팀\y)|수익\s*보장|수익\s*인증|무료\s*(추천|종목|상담|체험)|급등주\s*추천",
    r"적중률|VIP|문의\s*주세요",
])
# Links flag a title only: a link in the body is how posts quote the news they talk about ...
LINK_PATTERN = r"https?://|www\.|\.(com|net|kr|io|me|ly)\y"
# ... but not a shortened link or a messenger invite: a body that hides where it leads, or opens a chat
# room, is an ad under any title.
BODY_LINK_PATTERN = "|".join([
    r"\y(bit\.ly|t\.me|han\.gl|me2\.do|url\.kr|vo\.la|buly\.kr|tinyurl\.com|goo\.gl|band\.us|"
    r"pf\.kakao|open\.kakao|zrr\.kr|abit\.ly|shorturl)/",
    r"(카톡|카카오톡|텔레|라인|텔레그램)\s*(아이디|id|ID)\s*[:：]?\s*[A-Za-z0-9_@]",
])

# Off-topic: politics and the like ...
OFF_TOPIC_PATTERN = "|".join([
    r"대통령|대선|총선|선거|국회|의원|정권|정부|탄핵|여당|야당|민주당|국민의힘|국힘|더불어|좌파|우파|좌빨|빨갱이",
    r"윤석열|석열|이재명|재명|문재인|재인|박근혜|이명박|한동훈|조국|김건희|찢|굥|文|尹",
    r"종교|하나님|예수|신앙|교회|축구|야구|연예인|드라마",
])
# ... unless the title also speaks of the stock or the market.
MARKET_PATTERN = "|".join([
    r"주가|주식|종목|매수|매도|상승|하락|떡상|떡락|폭등|폭락|급등|급락|반등|손절|익절|물타|불타|존버|홀딩",
    r"실적|배당|공매도|외국인|외인|기관|개미|시총|목표가|차트|호재|악재|코스피|코스닥|나스닥|지수|상한가|하한가",
    r"금리|환율|반도체|증시|장마감|시가|종가|거래량|수급|매물|주주|평단|수익|손실|\d+\s*만\s*원|\d{2,3},?\d{3}",
])


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    where: str  # SQL over p (posts), q (post_quality) and t (tickers), for newly checked posts


RULES: tuple[Rule, ...] = (
    Rule("cleanbot_hidden", "hidden by Naver's clean-bot (abusive or harmful per Naver)",
         "p.cleanbot_passed IS FALSE"),
    Rule("reply_to_deleted", "a reply whose parent post was deleted: no context left",
         "p.title LIKE '[삭제된 게시물의 답글]%%'"),
    Rule("spam_ad", "ads and spam: phone numbers, messenger rooms, 리딩방 and 수익 보장 pitches (title or "
                    "body), links (title), shortened links and messenger ids (body)",
         "((p.title || ' ' || coalesce(p.body, '')) ~* %(spam)s OR p.title ~* %(link)s "
         "OR coalesce(p.body, '') ~* %(body_link)s)"),
    Rule("too_short", f"fewer than {MIN_TITLE_CHARS} letters or digits after normalisation",
         f"length(q.title_norm) < {MIN_TITLE_CHARS}"),
    Rule("off_topic", "politics and other off-topic words in the title with no word about the stock or the market "
                      "in title or body",
         "p.title ~* %(off_topic)s AND p.title !~* %(market)s AND strpos(p.title, t.name) = 0 "
         "AND coalesce(p.body, '') !~* %(market)s AND strpos(coalesce(p.body, ''), t.name) = 0"),
)
DUPLICATE_RULES: tuple[Rule, ...] = (
    Rule("duplicate_title", "the same title as an earlier post of the same stock within 24 hours "
                            f"(titles of {MIN_DUPLICATE_CHARS}+ letters or digits)", ""),
    Rule("near_duplicate_title", "the same normalised title as an earlier post of the same stock within "
                                 "24 hours (spacing, punctuation, emoji, repeated letters aside)", ""),
    Rule("duplicate_body", "the same normalised body as an earlier post of the same stock within 24 hours, under "
                           f"any title (bodies of {MIN_BODY_COPY_CHARS}+ letters or digits: copy-paste ads)", ""),
)
ALL_RULES: tuple[str, ...] = tuple(r.name for r in RULES + DUPLICATE_RULES)



def parse_rules(text: str) -> tuple[str, ...]:
    """``all``, ``none`` or a comma-separated list of rule names (checked where they are used)."""
    if text == "all":
        return ALL_RULES
    if text == "none":
        return ()
    return tuple(dict.fromkeys(r.strip() for r in text.replace(";", ",").split(",") if r.strip()))


_PARAMS = {"spam": SPAM_PATTERN, "link": LINK_PATTERN, "off_topic": OFF_TOPIC_PATTERN, "market": MARKET_PATTERN,
           "body_link": BODY_LINK_PATTERN}

# Duplicate flags are a function of the data, not of the order it arrived in: a new post (a late
# backfill too) re-decides every post of its (stock, normalised title) group, earlier and later.
# Within a group, "an earlier copy within 24 hours" is "the previous copy is within 24 hours", so
# one sort per group (lag) decides it: linear, not a pairwise join.
_DUPLICATE_GROUPS = f"""
CREATE TEMP TABLE dup_members ON COMMIT DROP AS
SELECT q.ticker, q.post_id, q.title_norm, p.title, p.posted_at
FROM post_quality q
JOIN (SELECT DISTINCT q.ticker, q.title_norm FROM quality_new n
      JOIN post_quality q ON q.ticker = n.ticker AND q.post_id = n.post_id
      WHERE length(q.title_norm) >= {MIN_DUPLICATE_CHARS}) g ON g.ticker = q.ticker AND g.title_norm = q.title_norm
JOIN posts p ON p.ticker = q.ticker AND p.post_id = q.post_id
"""
_DUPLICATE_FLAGS = """
SELECT count(*) FILTER (WHERE f.rule = 'duplicate_title'), count(*) FILTER (WHERE f.rule = 'near_duplicate_title')
FROM post_flags f JOIN dup_members m ON f.ticker = m.ticker AND f.post_id = m.post_id
"""
_DUPLICATES = """
INSERT INTO post_flags (ticker, post_id, rule)
SELECT ticker, post_id, %(rule)s
FROM (SELECT ticker, post_id, posted_at,
             lag(posted_at) OVER (PARTITION BY ticker, {key} ORDER BY posted_at, post_id) AS previous_at
      FROM dup_members) d
WHERE previous_at > posted_at - interval '24 hours'
  AND NOT EXISTS (SELECT 1 FROM post_flags f WHERE f.ticker = d.ticker AND f.post_id = d.post_id
                  AND f.rule = 'duplicate_title')
ON CONFLICT DO NOTHING
"""


# Copy-paste bodies, decided like the duplicate titles: every post of a (stock, body) group a new post
# joins is decided again, so the flag does not depend on the order posts arrived in.
_BODY_GROUPS = """
CREATE TEMP TABLE body_members ON COMMIT DROP AS
SELECT q.ticker, q.post_id, p.posted_at, q.body_key
FROM post_quality q
JOIN (SELECT DISTINCT q.ticker, q.body_key FROM quality_new n
      JOIN post_quality q ON q.ticker = n.ticker AND q.post_id = n.post_id WHERE q.body_key IS NOT NULL) g
  ON g.ticker = q.ticker AND g.body_key = q.body_key
JOIN posts p ON p.ticker = q.ticker AND p.post_id = q.post_id
"""
_BODY_FLAGS = ("SELECT count(*) FROM post_flags f JOIN body_members m ON f.ticker = m.ticker AND f.post_id = m.post_id "
               "WHERE f.rule = 'duplicate_body'")
_BODY_DUPLICATES = """
INSERT INTO post_flags (ticker, post_id, rule)
SELECT ticker, post_id, 'duplicate_body'
FROM (SELECT ticker, post_id, posted_at,
             lag(posted_at) OVER (PARTITION BY ticker, body_key ORDER BY posted_at, post_id) AS previous_at
      FROM body_members) d
WHERE previous_at > posted_at - interval '24 hours'
ON CONFLICT DO NOTHING
"""


def _flag_copied_bodies(cur) -> int:
    """Re-decide ``duplicate_body`` for the groups new posts joined; the net change."""
    cur.execute(_BODY_GROUPS)
    cur.execute(_BODY_FLAGS)
    before = cur.fetchone()[0]
    cur.execute("DELETE FROM post_flags f USING body_members m WHERE f.ticker = m.ticker AND f.post_id = m.post_id "
                "AND f.rule = 'duplicate_body'")
    cur.execute(_BODY_DUPLICATES)
    cur.execute(_BODY_FLAGS)
    return cur.fetchone()[0] - before


@dataclass
class QualityRun:
    checked: int
    flagged: dict[str, int]


def check_quality(engine: Engine, *, recheck: bool = False) -> QualityRun:
    """Flag every post not checked yet (all posts with ``recheck``); one transaction."""
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.executemany(
            "INSERT INTO quality_rules (name, description) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description",
            [(r.name, r.description) for r in RULES + DUPLICATE_RULES])
        if recheck:
            cur.execute("TRUNCATE post_flags, post_quality")
        cur.execute(
            "CREATE TEMP TABLE quality_new ON COMMIT DROP AS "
            "SELECT p.ticker, p.post_id FROM posts p WHERE NOT EXISTS "
            "(SELECT 1 FROM post_quality q WHERE q.ticker = p.ticker AND q.post_id = p.post_id)")
        checked = cur.rowcount
        cur.execute(
            f"INSERT INTO post_quality (ticker, post_id, title_norm, body_key) SELECT p.ticker, p.post_id, "
            f"{TITLE_NORM_SQL}, {BODY_KEY_SQL} FROM quality_new n JOIN posts p ON p.ticker = n.ticker "
            "AND p.post_id = n.post_id")
        flagged: dict[str, int] = {}
        for rule in RULES:
            cur.execute(
                "INSERT INTO post_flags (ticker, post_id, rule) SELECT p.ticker, p.post_id, %(rule)s "
                "FROM quality_new n JOIN posts p ON p.ticker = n.ticker AND p.post_id = n.post_id "
                "JOIN post_quality q ON q.ticker = n.ticker AND q.post_id = n.post_id "
                "LEFT JOIN tickers t ON t.code = p.ticker "
                f"WHERE {rule.where} ON CONFLICT DO NOTHING", {**_PARAMS, "rule": rule.name})
            flagged[rule.name] = cur.rowcount
        cur.execute(_DUPLICATE_GROUPS)
        cur.execute(_DUPLICATE_FLAGS)
        before = cur.fetchone()
        cur.execute("DELETE FROM post_flags f USING dup_members m WHERE f.ticker = m.ticker AND f.post_id = m.post_id "
                    "AND f.rule IN ('duplicate_title', 'near_duplicate_title')")
        cur.execute(_DUPLICATES.format(key="title"), {"rule": "duplicate_title"})
        cur.execute(_DUPLICATES.format(key="title_norm"), {"rule": "near_duplicate_title"})
        cur.execute(_DUPLICATE_FLAGS)
        after = cur.fetchone()
        # net change: a late earlier copy can move a flag from one post to another
        flagged["duplicate_title"], flagged["near_duplicate_title"] = after[0] - before[0], after[1] - before[1]
        flagged["duplicate_body"] = _flag_copied_bodies(cur)
        board_flags = sum(abs(n) for n in flagged.values())
        written = {"post_quality": checked, "post_flags": board_flags}
        # the sources whose check writes flags only (news, comments): their own rules and flags table,
        # in the module their record names (imported by name: those modules reuse this one's patterns)
        for source in TEXT_SOURCES.values():
            if source.checked is None:
                changed = import_module(source.quality).flag(cur)
                flagged.update(changed)
                written[source.flags] = sum(abs(n) for n in changed.values())
        for table, rows in written.items():
            analyze_after_write(cur, table, rows)  # the dataset build reads them next
    log.info("quality: %d posts checked; flagged %s", checked,
             ", ".join(f"{k}={v}" for k, v in flagged.items()))
    return QualityRun(checked, flagged)


def print_report(engine: Engine, stream: TextIO = sys.stdout, samples: int = 3) -> None:
    """Counts per rule and ticker, and a few example titles of each rule."""
    with raw_connection(engine) as raw, raw.cursor() as cur:
        cur.execute("SELECT ticker, count(*) FROM post_quality GROUP BY ticker ORDER BY ticker")
        checked = dict(cur.fetchall())
        cur.execute("SELECT ticker, rule, count(*) FROM post_flags GROUP BY ticker, rule")
        counts: dict[tuple[str, str], int] = {(t, r): n for t, r, n in cur.fetchall()}
        cur.execute("SELECT ticker, count(DISTINCT post_id) FROM post_flags GROUP BY ticker")
        any_flag = dict(cur.fetchall())
        examples: dict[str, list[tuple[str, str]]] = {}
        for rule in ALL_RULES:
            cur.execute("SELECT p.ticker, p.title FROM post_flags f JOIN posts p USING (ticker, post_id) "
                        "WHERE f.rule = %s ORDER BY p.posted_at DESC LIMIT %s", (rule, samples))
            examples[rule] = cur.fetchall()
    tickers = sorted(checked)
    width = max([len(r) for r in ALL_RULES] + [len("any rule")])
    stream.write(f"{'rule':{width}s} " + " ".join(f"{t:>7s}" for t in tickers) + f" {'total':>8s} {'share':>6s}\n")
    total_checked = sum(checked.values()) or 1
    for rule in (*ALL_RULES, "any rule"):
        row = [any_flag.get(t, 0) if rule == "any rule" else counts.get((t, rule), 0) for t in tickers]
        stream.write(f"{rule:{width}s} " + " ".join(f"{n:7d}" for n in row)
                     + f" {sum(row):8d} {sum(row) / total_checked:6.1%}\n")
    stream.write(f"{'checked':{width}s} " + " ".join(f"{checked[t]:7d}" for t in tickers)
                 + f" {sum(checked.values()):8d}\n\nexamples (newest first):\n")
    for rule, rows in examples.items():
        for ticker, title in rows:
            stream.write(f"  {rule:{width}s} {ticker} {title[:70]!r}\n")
