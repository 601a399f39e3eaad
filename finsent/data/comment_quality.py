"""Quality rules for comments (issue 30): flags per comment in ``comment_flags``, never deletions.

The board's rules where they apply to a comment's text (a comment has no title nor body of its own):

- ``comment_empty``: deleted (its text is gone) or fewer than ``MIN_TITLE_CHARS`` letters or digits
  after the board's normalisation (ㅋㅋ, ㅎ, an emoji): nothing to read.
- ``comment_spam``: the board's spam patterns (phone numbers, messenger rooms, 리딩방, 수익 보장),
  links, shortened links and messenger ids.
- ``comment_duplicate``: the same normalised text as an earlier comment of the same stock within 24
  hours (texts of ``MIN_DUPLICATE_CHARS``+ letters or digits): copy-paste floods count once.

Flags are a function of the data, as the news': each run computes the flags every comment should
have and changes only the rows that differ, in the caller's transaction.
"""

from __future__ import annotations

from finsent.data.quality import (
    BODY_LINK_PATTERN,
    LINK_PATTERN,
    MIN_DUPLICATE_CHARS,
    MIN_TITLE_CHARS,
    SPAM_PATTERN,
    TITLE_NORM_SQL,
)

COMMENT_RULES: dict[str, str] = {
    "comment_empty": f"a deleted comment, or fewer than {MIN_TITLE_CHARS} letters or digits after normalisation",
    "comment_spam": "ads and spam in a comment: phone numbers, messenger rooms, 리딩방 and 수익 보장 pitches, links",
    "comment_duplicate": "the same normalised text as an earlier comment of the same stock within 24 hours "
                         f"(texts of {MIN_DUPLICATE_CHARS}+ letters or digits)",
}

_NORM = TITLE_NORM_SQL.replace("p.title", "c.text")
_WANTED = f"""
CREATE TEMP TABLE comment_flags_wanted ON COMMIT DROP AS
WITH normed AS (SELECT c.ticker, c.post_id, c.comment_no, c.written_at, c.deleted, c.text, {_NORM} AS norm
                FROM comments c)
SELECT ticker, post_id, comment_no, 'comment_empty'::text AS rule FROM normed
WHERE deleted OR length(norm) < {MIN_TITLE_CHARS}
UNION ALL
SELECT ticker, post_id, comment_no, 'comment_spam' FROM normed
WHERE NOT deleted AND (text ~* %(spam)s OR text ~* %(link)s OR text ~* %(body_link)s)
UNION ALL
SELECT ticker, post_id, comment_no, 'comment_duplicate'
FROM (SELECT ticker, post_id, comment_no, written_at,
             lag(written_at) OVER (PARTITION BY ticker, norm ORDER BY written_at, post_id, comment_no) AS previous_at
      FROM normed WHERE NOT deleted AND length(norm) >= {MIN_DUPLICATE_CHARS}) d
WHERE previous_at > written_at - interval '24 hours'
"""
_KEY = "(w.ticker, w.post_id, w.comment_no, w.rule) = (f.ticker, f.post_id, f.comment_no, f.rule)"


def flag_comments(cursor) -> dict[str, int]:
    """Bring ``comment_flags`` in step with the rules; return the net change per rule. No commit."""
    cursor.executemany("INSERT INTO quality_rules (name, description) VALUES (%s, %s) "
                       "ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description",
                       list(COMMENT_RULES.items()))
    cursor.execute("SELECT rule, count(*) FROM comment_flags GROUP BY rule")
    before = dict(cursor.fetchall())
    cursor.execute(_WANTED, {"spam": SPAM_PATTERN, "link": LINK_PATTERN, "body_link": BODY_LINK_PATTERN})
    cursor.execute(f"DELETE FROM comment_flags f WHERE NOT EXISTS (SELECT 1 FROM comment_flags_wanted w WHERE {_KEY})")
    cursor.execute("INSERT INTO comment_flags (ticker, post_id, comment_no, rule) "
                   "SELECT ticker, post_id, comment_no, rule FROM comment_flags_wanted ON CONFLICT DO NOTHING")
    cursor.execute("SELECT rule, count(*) FROM comment_flags GROUP BY rule")
    after = dict(cursor.fetchall())
    return {rule: after.get(rule, 0) - before.get(rule, 0) for rule in COMMENT_RULES}


flag = flag_comments  # what ``finsent.data.quality`` calls for the source whose record names this module
