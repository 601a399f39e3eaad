"""The loopback Naver's whole posts (SOURCES.md section 1b): the detail endpoint, comment counts,
and the comment service (CBOX, JSONP), with what makes them hard.

- Bodies: ``cut_bodies`` makes the list show some bodies cut ("...") or not at all; the detail
  endpoint always has the whole one. ``plant_body_signal`` gives a share of posts a neutral title
  ("삼성 어떻게 보세요?") and the view in the body ("저는 내일 반등 봅니다"); ``plant_comment_signal``
  puts the view in a comment written before the session opens (and the answer in one after it).
- Comments: every post with a comment count has that many comments, newest first, paged by number;
  some are replies (``parentCommentNo``, ``replyLevel`` 2), some deleted (kept, ``deleted`` true,
  empty ``contents``). Tests add comments (also while a client pages: counts that move), delete
  them, and inject faults by path (``FakeNaver.inject``); ``bad_jsonp`` makes the next answers a
  JSON without its wrapper, an error page or an answer with ``success`` false.
"""

from __future__ import annotations

import bisect
import dataclasses
import html
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from finsent.loopback.content import JSON_CT, Post, Response

DETAIL_PATH = "/front-api/discussion/detail"
COUNTS_PATH = "/front-api/discussion/comment/counts"
CBOX_PATH = "/commentBox/cbox/web_naver_list_jsonp.json"
JSONP_CT = "application/javascript;charset=UTF-8"
LIST_BODY_CHARS = 40  # a cut list body shows this many characters, then "..."
MAX_COUNT_IDS = 20
_NEUTRAL_TITLES = ("{name} 어떻게 보세요?", "{name} 다들 어떻게 생각하세요", "{name} 내일 어떨까요",
                   "{name} 질문 하나만요", "{name} 형님들 의견 부탁", "{name} 오늘 장 어땠나요")
_BODY_UP = ("저는 내일 반등 봅니다", "여기서 추가 매수 들어갑니다", "바닥 확인했고 상승 추세 시작이라 봅니다",
            "호재 나올 타이밍이라 홀딩합니다")
_BODY_DOWN = ("저는 내일 하락 봅니다", "여기서 전량 손절했습니다", "고점 찍었고 하락 추세 시작이라 봅니다",
              "악재 나올 타이밍이라 매도합니다")
_COMMENT_WORDS = ("ㅋㅋ 동감", "저도 그렇게 봅니다", "아닌데요", "내일 보면 알겠죠", "물타기 갑니다", "손절이 답",
                  "가즈아", "뇌피셜 그만", "좋은 글 감사", "ㅠㅠ")


@dataclass(frozen=True)
class Comment:
    no: int
    post_id: int
    written_at: datetime  # KST, naive
    text: str
    user: str  # masked
    likes: int
    dislikes: int
    parent_no: int | None  # a reply's parent comment
    deleted: bool = False

    @property
    def level(self) -> int:
        return 1 if self.parent_no is None else 2


class ThreadDesk:
    """Mixin of FakeNaver: post details, comment counts and the CBOX comment lists."""

    comments: dict[int, list[Comment]]  # post id -> its comments, oldest first

    def _generate_comments(self) -> None:
        self._thread_rng = random.Random(self.seed + 30)  # type: ignore[attr-defined]
        self._comment_seq = 900_000_000
        self._cbox_requests = 0
        self._thread_requests: dict[int, int] = {}  # post id -> CBOX requests answered for it
        self._comment_arrivals: list[tuple[int, int, int]] = []  # (post id, n, after its requests)
        self._bad_jsonp: list[str] = []
        self.comments = {}
        for posts in self.posts.values():  # type: ignore[attr-defined]
            for post in posts:
                if post.comment_count:
                    self.comments[post.id] = []
                    self._make_comments(post, post.comment_count)

    def _make_comments(self, post: Post, n: int) -> list[Comment]:
        rng, thread = self._thread_rng, self.comments.setdefault(post.id, [])
        last = thread[-1].written_at if thread else post.written_at
        made = []
        for _ in range(n):
            self._comment_seq += rng.randint(1, 9)
            last = min(datetime.now().replace(microsecond=0), last + timedelta(minutes=rng.randint(1, 90)))
            parents = [c.no for c in thread if c.parent_no is None]
            parent = rng.choice(parents) if parents and rng.random() < 0.2 else None
            user = "".join(rng.choice("abcdefghijklmnop") for _ in range(4)) + "****"
            comment = Comment(self._comment_seq, post.id, last, rng.choice(_COMMENT_WORDS), user,
                              rng.choice((0, 0, 1, 2, 5)), rng.choice((0, 0, 1)), parent,
                              deleted=rng.random() < 0.08)
            thread.append(comment)
            made.append(comment)
        return made

    # ---------------------------------------------------------------- test controls

    def post_by_id(self, post_id: int) -> Post | None:
        with self.lock:  # type: ignore[attr-defined]
            return next((p for ps in self.posts.values() for p in ps if p.id == post_id), None)  # type: ignore[attr-defined]

    def _replace_post(self, post: Post, **changes: Any) -> Post:
        posts = self.posts[post.ticker]  # type: ignore[attr-defined]
        new = dataclasses.replace(post, **changes)
        posts[posts.index(post)] = new
        return new

    def cut_bodies(self, share: float, missing_share: float = 0.0) -> list[Post]:
        """Give a ``share`` of the top-level posts a long body the list shows cut ("..."), and a
        ``missing_share`` one the list leaves out; the detail endpoint has each whole."""
        rng, changed = random.Random(self.seed + 31), []  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            for post in [p for ps in self.posts.values() for p in ps]:  # type: ignore[attr-defined]
                roll = rng.random()
                if roll >= share + missing_share:
                    continue
                lines = [*(post.body_text or "").split("\n"), "그리고 한 가지 더 말씀드리면 차트가 중요합니다.",
                         f"오늘도 {rng.randint(2, 9)}번째 글 남깁니다 ㅋㅋㅋㅋㅋㅋ"]
                body_html = "<br>".join(html.escape(line, quote=False) for line in lines if line)
                changed.append(self._replace_post(post, body_html=body_html, body_text="\n".join(x for x in lines if x),
                                                  list_body="cut" if roll < share else "missing"))
        return changed

    def _drawn_posts(self, rng: random.Random, share: float) -> Iterator[tuple[Post, Any, datetime, str]]:
        """A ``share`` of the top-level posts (drawn by ``rng``) whose session moves from open to close:
        (the post, its session's price row, that session's opening, the stock's name). Under the lock."""
        for ticker, posts in self.posts.items():  # type: ignore[attr-defined]
            sessions = [r for r in self.prices.get(ticker, []) if r.volume > 0]  # type: ignore[attr-defined]
            opens = [datetime.combine(r.trade_date, time(9, 0)) for r in sessions]
            name = self.tickers.get(ticker, ticker)  # type: ignore[attr-defined]
            for post in list(posts):
                k = bisect.bisect_right(opens, post.written_at)
                if (post.reply_depth or post.post_type != "normal" or rng.random() >= share
                        or k >= len(sessions) or sessions[k].close == sessions[k].open):
                    continue
                yield post, sessions[k], opens[k], name

    def plant_body_signal(self, share: float, accuracy: float = 0.9) -> int:
        """Give a ``share`` of the top-level posts a neutral title and a body that says which way
        the next session moves from open to close (right with probability ``accuracy``): a board
        whose view sits in the body. Returns how many posts carry it."""
        rng, planted = random.Random(self.seed + 32), 0  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            for post, session, _, name in self._drawn_posts(rng, share):
                up = (session.close > session.open) == (rng.random() < accuracy)
                title = f"{rng.choice(_NEUTRAL_TITLES).format(name=name)} {rng.randint(1, 9999)}"
                view = f"{rng.choice(_BODY_UP if up else _BODY_DOWN)} {rng.randint(1, 999)}"
                self._replace_post(post, title=title, body_html=html.escape(view, quote=False), body_text=view,
                                   cleanbot_passed=True)
                planted += 1
        return planted

    def plant_comment_signal(self, share: float, accuracy: float = 0.9) -> int:
        """Give a ``share`` of the top-level posts a neutral title and body, and comments written under
        each before the open of its session that say which way that session moves from open to close
        (right with probability ``accuracy``), then one written after the close that tells what did
        happen (always right: a model that read it would know the answer). The crowd's view sits in
        the comments. Returns how many posts carry it."""
        rng, planted = random.Random(self.seed + 33), 0  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            for post, session, opens, name in self._drawn_posts(rng, share):
                after = datetime.combine(session.trade_date, time(16, 0))
                if opens - post.written_at < timedelta(minutes=10) or after > datetime.now():
                    continue
                rose = session.close > session.open
                up = rose == (rng.random() < accuracy)
                post = self._replace_post(post, title=f"{rng.choice(_NEUTRAL_TITLES).format(name=name)} "
                                          f"{rng.randint(1, 9999)}", body_html="의견 부탁드립니다",
                                          body_text="의견 부탁드립니다", cleanbot_passed=True)
                before = post.written_at + (opens - post.written_at) / 2
                texts = ((before, f"{rng.choice(_BODY_UP if up else _BODY_DOWN)} {rng.randint(1, 999)}"),
                         (after, f"{'오늘 올랐네요 축하' if rose else '오늘 빠졌네요 ㅠ'} {rng.randint(1, 999)}"))
                self._put_comments(post, texts)
                planted += 1
        return planted

    def _put_comments(self, post: Post, texts: tuple[tuple[datetime, str], ...]) -> None:
        """Comments of these (time, text) under a post, after (and instead of) the ones it had."""
        thread = self.comments[post.id] = []
        for written_at, text in texts:
            self._comment_seq += 1
            thread.append(Comment(self._comment_seq, post.id, written_at.replace(microsecond=0), text, "test****",
                                  0, 0, None))
        self._replace_post(post, comment_count=len(thread))

    def add_comments(self, post_id: int, n: int) -> list[Comment]:
        """n new comments under a post (newer than its others); its comment count grows with them."""
        with self.lock:  # type: ignore[attr-defined]
            post = self.post_by_id(post_id)
            if post is None:
                raise KeyError(f"no post {post_id}")
            made = self._make_comments(post, n)
            self._replace_post(post, comment_count=len(self.comments[post_id]))
        return made

    def delete_comment(self, post_id: int, comment_no: int) -> None:
        with self.lock:  # type: ignore[attr-defined]
            thread = self.comments[post_id]
            index = next(i for i, c in enumerate(thread) if c.no == comment_no)
            thread[index] = dataclasses.replace(thread[index], deleted=True)

    def comments_arrive_during_paging(self, post_id: int, n: int, after_requests: int) -> None:
        """Add n comments to a post once ``after_requests`` more CBOX requests for its thread have been
        answered (its pages shift under a client walking them)."""
        with self.lock:  # type: ignore[attr-defined]
            done = self._thread_requests.get(post_id, 0)
            self._comment_arrivals.append((post_id, n, done + after_requests))

    def bad_jsonp(self, *kinds: str) -> None:
        """The next CBOX answers, one per kind: 'unwrapped' (JSON without its callback), 'html' (an
        error page) or 'failure' (``success`` false)."""
        with self.lock:  # type: ignore[attr-defined]
            self._bad_jsonp.extend(kinds)

    def cbox_requests(self) -> int:
        with self.lock:  # type: ignore[attr-defined]
            return self._cbox_requests

    def visible_comments(self, post_id: int) -> list[Comment]:
        with self.lock:  # type: ignore[attr-defined]
            return list(self.comments.get(post_id, []))

    # ---------------------------------------------------------------- the endpoints

    def _detail_json(self, q: dict[str, str]) -> Response:
        post = self.post_by_id(int(q["id"])) if (q.get("id") or "").isdigit() else None
        if post is None:
            body = {"isSuccess": False, "detailCode": "NOT_FOUND", "message": "게시글이 없습니다.", "result": None}
            return Response(200, JSON_CT, json.dumps(body, ensure_ascii=False).encode("utf-8"))
        result = {"id": str(post.id), "title": post.title, "contentHtml": post.body_html,
                  "contentJsonSwReplaced": json.dumps({"document": {"text": post.body_text}}, ensure_ascii=False),
                  "writtenAt": post.written_at.strftime("%Y-%m-%dT%H:%M:%S"), "recommendCount": post.likes}
        if post.views is not None:
            result["viewCount"] = post.views
        body = {"isSuccess": True, "detailCode": "", "message": "", "result": result}
        return Response(200, JSON_CT, json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def _comment_counts(self, q: dict[str, str]) -> Response:
        ids = [x for x in (q.get("postIds") or "").split(",") if x]
        if not ids or len(ids) > MAX_COUNT_IDS or not all(x.isdigit() for x in ids):
            body = {"isSuccess": False, "detailCode": "INVALID_PARAMETER", "message": f"postIds={q.get('postIds')!r}"}
            return Response(400, JSON_CT, json.dumps(body).encode())
        with self.lock:  # type: ignore[attr-defined]
            counts = [{"postId": x, "commentCount": len(self.comments.get(int(x), []))} for x in ids]
        body = {"isSuccess": True, "result": {"commentCounts": counts}}
        return Response(200, JSON_CT, json.dumps(body).encode())

    def _cbox(self, q: dict[str, str]) -> Response:
        callback = q.get("_callback") or "_callback"
        object_id = int(q["objectId"]) if (q.get("objectId") or "").isdigit() else -1
        with self.lock:  # type: ignore[attr-defined]
            self._cbox_requests += 1
            self._thread_requests[object_id] = self._thread_requests.get(object_id, 0) + 1
            bad = self._bad_jsonp.pop(0) if self._bad_jsonp else None
            answer = self._cbox_answer(q)
            self._fire_comment_arrivals()
        if bad == "html":
            return Response(200, "text/html;charset=UTF-8", "<html><body>점검 중입니다</body></html>".encode())
        if bad == "failure":
            answer = {"success": False, "code": "3999", "message": "일시적인 오류가 발생했습니다.", "result": {}}
        text = json.dumps(answer)  # \u escapes, as CBOX often sends them (a lone surrogate stays one)
        return Response(200, JSONP_CT, (text if bad == "unwrapped" else f"{callback}({text});").encode("utf-8"))

    def _cbox_answer(self, q: dict[str, str]) -> dict[str, Any]:
        object_id = q.get("objectId", "")
        page, size = int(q.get("page") or "1"), min(100, int(q.get("pageSize") or "20"))
        thread = self.comments.get(int(object_id), []) if object_id.isdigit() else []
        newest = sorted(thread, key=lambda c: c.no, reverse=True)
        chunk = newest[(page - 1) * size: page * size]
        items = [self._comment_json(c, object_id) for c in chunk]
        total = len(thread)
        pages = max(1, -(-total // size))
        return {"success": True, "code": "1000", "message": "요청을 성공적으로 처리하였습니다.", "lang": "ko",
                "country": "KR", "result": {
                    "commentList": items,
                    "pageModel": {"page": page, "pageSize": size, "totalRows": total, "totalPages": pages,
                                  "firstPage": 1, "lastPage": pages, "nextPage": min(pages, page + 1)},
                    "count": {"comment": sum(c.level == 1 for c in thread), "reply": sum(c.level == 2 for c in thread),
                              "delCommentByUser": sum(c.deleted for c in thread), "total": total}},
                "date": datetime.now().strftime("%Y-%m-%dT%H:%M:%S+0900")}

    @staticmethod
    def _comment_json(c: Comment, object_id: str) -> dict[str, Any]:
        return {"ticket": "finance", "objectId": object_id, "templateId": "default", "commentNo": c.no,
                "parentCommentNo": c.parent_no if c.parent_no is not None else c.no, "replyLevel": c.level,
                "replyCount": 0, "replyAllCount": 0, "contents": "" if c.deleted else c.text,
                "userName": c.user, "maskedUserId": c.user,
                "regTime": c.written_at.strftime("%Y-%m-%dT%H:%M:%S+0900"),
                "modTime": c.written_at.strftime("%Y-%m-%dT%H:%M:%S+0900"),
                "sympathyCount": c.likes, "antipathyCount": c.dislikes, "deleted": c.deleted}

    def _fire_comment_arrivals(self) -> None:
        due = [a for a in self._comment_arrivals if self._thread_requests.get(a[0], 0) >= a[2]]
        for arrival in due:
            self._comment_arrivals.remove(arrival)
            self.add_comments(arrival[0], arrival[1])
