-- A tradable label (issue 16): next_open_close pays the post's session from its open to its close
-- (`horizon` sessions on), the move a reader of the post can still trade on the exchange.
-- next_session (close to close) stays, documented as not tradable: part of its move is public
-- after the close (KRX after-hours, Nextrade, the US session).

ALTER TABLE label_definitions DROP CONSTRAINT label_definitions_rule_check;
ALTER TABLE label_definitions ADD CONSTRAINT label_definitions_rule_check
    CHECK (rule IN ('next_open_close', 'next_session', 'same_day'));
COMMENT ON TABLE label_definitions IS
    'next_open_close (tradable): first session opening (09:00 KST, or its session_hours opening) strictly after '
    'the post, its open to the close `horizon` sessions on. next_session (not tradable: part of the move is '
    'public after the close): the same session, from the close of the session before it. same_day: the '
    'post''s KST date must be a session (the 2023 study), returns as next_session. |ret| < band (or ret = 0) '
    'is labelled flat.';

-- The sessions carry their open too (a new last column: the view's other columns stay as they were).
CREATE OR REPLACE VIEW sessions AS
SELECT ticker,
       trade_date,
       close,
       (row_number() OVER w)::integer AS session_no,
       open
FROM prices
WHERE volume > 0
WINDOW w AS (PARTITION BY ticker ORDER BY trade_date);

COMMENT ON COLUMN labels.base_date IS
    'The session before the post''s session: next_session and same_day start from its close; every rule '
    'relabels when a price between it and target_date changes.';
COMMENT ON COLUMN labels.target_date IS 'The session whose close the return ends at.';
COMMENT ON COLUMN labels.ret IS
    'next_open_close: close(target) / open(session_date) - 1; next_session, same_day: close(target) / close(base) - 1.';
COMMENT ON COLUMN backtest_daily.ret IS 'The label''s return of the session (open to close under next_open_close).';
