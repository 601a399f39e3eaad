-- Comments (댓글) of discussion-board posts (issue 30): Naver's comment service (CBOX, JSONP;
-- SOURCES.md section 1b). One row per (ticker, post_id, comment_no); a re-fetch updates what a
-- comment can change (likes, dislikes, deletion, an edit), never adds it twice.

-- No foreign key to posts, like posts to tickers: the writer checks the post is stored first.
CREATE TABLE comments (
    ticker            text        NOT NULL,
    post_id           bigint      NOT NULL,   -- the post (nid) the comment is under
    comment_no        bigint      NOT NULL,   -- CBOX commentNo
    parent_comment_no bigint,                 -- a reply's parent comment (parentCommentNo), where CBOX says
    reply_level       smallint,               -- 1: a comment; 2: a reply (where CBOX says)
    written_at        timestamptz NOT NULL,   -- regTime (KST when it has no offset)
    modified_at       timestamptz,            -- modTime, when it differs from regTime
    text              text        NOT NULL,   -- contents as plain text; '' once deleted
    author            text,                   -- userName as shown (masked)
    likes             integer,                -- sympathyCount
    dislikes          integer,                -- antipathyCount
    replies           integer,                -- replyAllCount
    deleted           boolean     NOT NULL DEFAULT false,
    source            text        NOT NULL,   -- 'naver-cbox'
    crawled_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    changed_seq       bigint      DEFAULT nextval('change_seq'),
    PRIMARY KEY (ticker, post_id, comment_no)
);
CREATE INDEX comments_ticker_written_at_idx ON comments (ticker, written_at);
CREATE INDEX comments_changed_seq_idx ON comments (changed_seq);
COMMENT ON TABLE comments IS 'Comments of discussion-board posts, one row per (ticker, post_id, comment_no).';

-- What the comment crawl knows of each post's thread: the count Naver last reported and the count
-- the stored comments are complete up to. A post is fetched again only when its count grew past
-- fetched_count; the comments of one fetch and this row commit together.
CREATE TABLE comment_threads (
    ticker        text        NOT NULL,
    post_id       bigint      NOT NULL,
    comment_count integer     NOT NULL,   -- the last count the counts endpoint reported
    fetched_count integer,                -- the thread is stored complete up to this count (NULL: never fetched)
    pages         integer     NOT NULL DEFAULT 0,  -- CBOX pages read by the last fetch
    checked_at    timestamptz NOT NULL DEFAULT now(),
    fetched_at    timestamptz,
    PRIMARY KEY (ticker, post_id)
);
COMMENT ON TABLE comment_threads IS
    'Per post: the comment count last reported and the count its stored comments are complete up to.';
