"""The pages the fake answers with, in the real formats: JSON board, legacy EUC-KR HTML board,
fchart XML, siseJson and sise_day."""

from __future__ import annotations

import html
import json
from datetime import date, datetime
from typing import Any

from finsent.loopback.content import (
    BOARD_PAGE_SIZE,
    CLEANBOT_HIDDEN_TEXT,
    HTML_CT,
    HTML_TITLE_MAX,
    JS_CT,
    JSON_CT,
    JSON_REQUIRED_PARAMS,
    SISE_DAY_PAGE_SIZE,
    TEXT_CT,
    XML_CT,
    Post,
    PriceRow,
    Response,
    decode_cursor,
    encode_cursor,
    fmt_int,
)
from finsent.loopback.threads import LIST_BODY_CHARS


class NaverPages:
    """Mixin of FakeNaver: renders each endpoint from its stored posts and prices."""

    # ---------------------------------------------------------------- JSON board

    @staticmethod
    def _post_json(p: Post) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(p.id),
            "itemCode": p.ticker,
            "postType": p.post_type,
            "writer": {
                "nickname": p.nickname,
                "profileId": p.profile_id,
                "isHolderVerified": p.holder_verified,
            },
            "writtenAt": p.written_at.strftime("%Y-%m-%dT%H:%M:%S"),
            "title": p.title,
            "replyDepth": p.reply_depth,
            "parentId": None if p.parent_id is None else str(p.parent_id),
            "isCleanbotPassed": p.cleanbot_passed,
            "commentCount": p.comment_count,
            "recommendCount": p.likes,
            "notRecommendCount": p.dislikes,
        }
        if p.list_body == "full":
            out.update(contentSwReplaced=p.body_html, contentSwReplacedButImg=p.body_text)
        elif p.list_body == "cut":  # the list's cut: the first characters and "..." (the detail has all)
            text = p.body_text if p.body_text is not None else p.body_html
            out.update(contentSwReplaced=p.body_html[:LIST_BODY_CHARS] + "...",
                       contentSwReplacedButImg=text[:LIST_BODY_CHARS] + "...")
        if p.views is not None:
            out["viewCount"] = p.views
        return out

    @staticmethod
    def _json_error(message: str) -> Response:
        body = {"isSuccess": False, "detailCode": "INVALID_PARAMETER", "message": message, "result": None}
        return Response(400, JSON_CT, json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def _discussion_json(self, q: dict[str, str]) -> Response:
        code = q.get("itemCode", "")
        leak = any(not q.get(name) for name in JSON_REQUIRED_PARAMS)
        size_raw = q.get("pageSize") or "20"
        try:
            size = int(size_raw)
        except ValueError:
            return self._json_error(f"pageSize={size_raw!r}")
        if size < 1:
            return self._json_error(f"pageSize={size_raw!r}")
        size = min(size, self.page_size_cap)
        offset = q.get("offset") or None
        before: int | None = None
        if offset is not None:
            before = decode_cursor(offset)
            if before is None:
                return self._json_error(f"offset={offset!r}")

        with self.lock:
            if leak:
                # The real endpoint, missing a parameter, mixes in posts of other stocks.
                pool = [p for ps in self.posts.values() for p in ps] + self._leak_posts
            elif code in self.posts:
                pool = list(self.posts[code])
            else:
                pool = None
        if pool is None:
            result: dict[str, Any] = {"posts": [], "lastOffset": None}
        else:
            if q.get("isHolderOnly") == "true":
                pool = [p for p in pool if p.holder_verified]
            if q.get("excludesItemNews") == "true":
                pool = [p for p in pool if p.post_type != "itemNewsResearch"]
            if q.get("isItemNewsOnly") == "true":
                pool = [p for p in pool if p.post_type == "itemNewsResearch"]
            # Cursor = position by id, so posts that arrive mid-walk never shift older pages.
            older = sorted((p for p in pool if before is None or p.id < before), key=lambda p: -p.id)
            page = older[:size]
            result = {"posts": [self._post_json(p) for p in page]}
            if page:
                result["lastOffset"] = encode_cursor(page[-1].id, code)
            elif self.json_end_style == "repeat":
                result["lastOffset"] = offset
            elif self.json_end_style == "null":
                result["lastOffset"] = None
            # "omit": no lastOffset key at all
        body = json.dumps({"isSuccess": True, "result": result}, ensure_ascii=False).encode("utf-8")
        return Response(200, JSON_CT, body, list_ticker=code)

    # ---------------------------------------------------------------- legacy HTML helpers

    @staticmethod
    def _page_number(q: dict[str, str]) -> int:
        try:
            return max(1, int(q.get("page") or "1"))
        except ValueError:
            return 1

    @staticmethod
    def _nnavi(link_path: str, code: str, page: int, last: int) -> str:
        """The real pager: 10 links a block, pgLL/pgL/pgR, and pgRR (맨뒤) -> the last page."""

        def href(n: int) -> str:
            return f"{link_path}?code={code}&amp;page={n}"

        block_start = (page - 1) // 10 * 10 + 1
        block_end = min(block_start + 9, last)
        out = [
            "<!--- 페이지 네비게이션 시작--->",
            '<table summary="페이지 네비게이션 리스트" class="Nnavi" align="center">',
            "<caption>페이지 네비게이션</caption>",
            "<tr>",
        ]
        if block_start > 1:
            out.append(f'<td class="pgLL">\n<a href="{href(1)}"  >\n맨앞\n</a>\n</td>')
            out.append(f'<td class="pgL">\n<a href="{href(block_start - 1)}"  >\n이전\n</a>\n</td>')
        for n in range(block_start, block_end + 1):
            cls = ' class="on"' if n == page else ""
            out.append(f'<td{cls}>\n<a href="{href(n)}"  >{n}</a>\n</td>')
        if block_end < last:
            out.append(f'<td class="pgR">\n<a href="{href(block_end + 1)}"  >\n다음\n</a>\n</td>')
        if last > 1:
            out.append(f'<td class="pgRR">\n<a href="{href(last)}"  >맨뒤\n</a>\n</td>')
        out += ["</tr>", "</table>", "<!--- 페이지 네비게이션 끝--->"]
        return "\n".join(out)

    @staticmethod
    def _html_page(title: str, inner: str) -> bytes:
        page = (
            '<html lang="ko">\n<head>\n'
            '<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">\n'
            f"<title>{title}</title>\n</head>\n<body>\n"
            '<script language="JavaScript">\n'
            'function mouseOver(obj){\n  obj.style.backgroundColor="#f6f4e5";\n}\n'
            'function mouseOut(obj){\n  obj.style.backgroundColor="#ffffff";\n}\n</script>\n'
            f"{inner}\n</body>\n</html>\n"
        )
        # EUC-KR has no emoji: like the real site, they go out as numeric character references.
        return page.encode("cp949", errors="xmlcharrefreplace")

    # ---------------------------------------------------------------- legacy HTML board

    def _board_html(self, path: str, q: dict[str, str]) -> Response:
        code = q.get("code", "")
        suffix = path.rsplit(".", 1)[1]  # links follow the flavour asked for: naver | nhn
        with self.lock:
            newest_first = sorted(self.posts.get(code, []), key=lambda p: -p.id)
        last = max(1, -(-len(newest_first) // BOARD_PAGE_SIZE))
        page = min(self._page_number(q), last)  # past the end: the last page again, as the real one
        chunk = newest_first[(page - 1) * BOARD_PAGE_SIZE : page * BOARD_PAGE_SIZE]

        # Replies sit directly under their parent when it is on the same page.
        on_page = {p.id for p in chunk}
        children: dict[int, list[Post]] = {}
        for p in chunk:
            if p.parent_id in on_page:
                children.setdefault(p.parent_id, []).append(p)
        ordered: list[Post] = []
        for p in chunk:
            if p.parent_id in on_page:
                continue
            ordered.append(p)
            ordered.extend(sorted(children.get(p.id, []), key=lambda c: c.id))

        blank = '<tr>\n<td colspan="6" height="8"></td>\n</tr>'
        rows = [
            "<tr>\n<th>날짜</th>\n<th>제목</th>\n<th>글쓴이</th>\n<th>조회</th>\n<th>공감</th>\n<th>비공감</th>\n</tr>",
            blank,
        ]
        for i, p in enumerate(ordered, start=1):
            rows.append(self._board_row(p, code, page, suffix))
            if i % 5 == 0:
                rows.append(blank)
        name = html.escape(self.tickers.get(code, ""))
        inner = (
            '<div id="wrap">\n<div id="content">\n<div class="section inner_sub">\n'
            '<h4 class="h_sub sub_tit7"><em>종목토론실</em></h4>\n'
            '<table class="type2" cellspacing="0" summary="종목토론 게시판 리스트">\n'
            "<caption>종목토론 게시판</caption>\n"
            + "\n".join(rows)
            + "\n</table>\n"
            + self._nnavi(f"/item/board.{suffix}", code, page, last)
            + "\n</div>\n</div>\n</div>"
        )
        body = self._html_page(f"{name} : 네이버 금융", inner)
        return Response(200, HTML_CT, body, list_ticker=code)

    @staticmethod
    def _board_row(p: Post, code: str, page: int, suffix: str) -> str:
        comments = f'\n<span class="tah p9">[<b>{p.comment_count}</b>]</span>' if p.comment_count > 0 else ""
        if p.cleanbot_passed:
            text = p.title if len(p.title) <= HTML_TITLE_MAX else p.title[:HTML_TITLE_MAX] + "..."
            href = f"/item/board_read.{suffix}?code={code}&amp;nid={p.id}&amp;st=&amp;sw=&amp;page={page}"
            title_cell = f'<a href="{href}" title="{html.escape(p.title)}">{html.escape(text)}</a>{comments}'
        else:
            title_cell = f"{CLEANBOT_HIDDEN_TEXT}{comments}"  # no link, so no id to key it by
        return (
            '<tr onMouseOver="mouseOver(this)" onMouseOut="mouseOut(this)">\n'
            f'<td><span class="tah p10 gray03">{p.written_at:%Y.%m.%d %H:%M}</span></td>\n'
            f'<td class="title">\n{title_cell}\n</td>\n'
            f'<td class="p11">{html.escape(p.nickname)}</td>\n'
            f'<td><span class="tah p10 gray03">{p.views or 0}</span></td>\n'
            f'<td><strong class="tah p10 red01">{p.likes}</strong></td>\n'
            f'<td><strong class="tah p10 blue01">{p.dislikes}</strong></td>\n'
            "</tr>"
        )

    # ---------------------------------------------------------------- prices

    def _fchart(self, q: dict[str, str]) -> Response:
        code = q.get("symbol", "")
        try:
            count = int(q.get("count") or "0")
        except ValueError:
            return Response(400, TEXT_CT, b"bad count\n")
        with self.lock:
            rows = list(self.prices.get(code, []))
        name = self.tickers.get(code, "")
        if q.get("timeframe", "day") != "day" or count <= 0:
            rows = []
        rows = rows[-count:] if rows else []
        items = "".join(
            f'\t\t<item data="{r.trade_date:%Y%m%d}|{r.open}|{r.high}|{r.low}|{r.close}|{r.volume}" />\n'
            for r in rows
        )
        xml = (
            '<?xml version="1.0" encoding="EUC-KR" ?>\n<protocol>\n'
            f'\t<chartdata symbol="{html.escape(code)}" name="{html.escape(name)}" count="{len(rows)}" '
            'timeframe="day" precision="0" origintime="19900103">\n'
            f"{items}\t</chartdata>\n</protocol>\n"
        )
        return Response(200, XML_CT, xml.encode("cp949", errors="xmlcharrefreplace"))

    def _sise_json(self, q: dict[str, str]) -> Response:
        code = q.get("symbol", "")
        try:
            start = datetime.strptime(q.get("startTime", ""), "%Y%m%d").date()
            end = datetime.strptime(q.get("endTime", ""), "%Y%m%d").date()
        except ValueError:
            return Response(400, TEXT_CT, b"bad startTime/endTime\n")
        with self.lock:
            rows = [r for r in self.prices.get(code, []) if start <= r.trade_date <= end]
            rates = self._foreign_rate.get(code, {})
        lines = ["[['날짜', '시가', '고가', '저가', '종가', '거래량', '외국인소진율'],"]
        for r in rows:
            rate = rates.get(r.trade_date, 0.0)
            lines.append(
                f'["{r.trade_date:%Y%m%d}", {r.open}, {r.high}, {r.low}, {r.close}, {r.volume}, {rate}],'
            )
        # The real answer is a JS literal with blank-ish lines between rows; no trailing comma
        # here so both ast.literal_eval and a quote-swapping json.loads work.
        text = "\n" + "\n\t\t\n".join(lines).rstrip(",") + "\n]\n"
        return Response(200, JS_CT, text.encode("utf-8"))

    def _sise_day_html(self, path: str, q: dict[str, str]) -> Response:
        code = q.get("code", "")
        suffix = path.rsplit(".", 1)[1]
        with self.lock:
            raw = list(self.raw_prices.get(code, []))
            adjusted = list(self.prices.get(code, []))
        # 전일비 against the previous close on today's share basis (so a split day is not -98%).
        changes: dict[date, int] = {}
        for i, (r, a) in enumerate(zip(raw, adjusted)):
            if i == 0:
                changes[r.trade_date] = 0
                continue
            factor = r.close // a.close if a.close else 1
            changes[r.trade_date] = r.close - adjusted[i - 1].close * factor
        newest_first = raw[::-1]
        last = max(1, -(-len(newest_first) // SISE_DAY_PAGE_SIZE))
        page = min(self._page_number(q), last)
        chunk = newest_first[(page - 1) * SISE_DAY_PAGE_SIZE : page * SISE_DAY_PAGE_SIZE]

        blank = '<tr>\n<td colspan="7" height="8"></td>\n</tr>'
        rule = '<tr>\n<td colspan="7" height="1" bgcolor="#e1e1e1"></td>\n</tr>'
        header = "".join(f"<th>{h}</th>\n" for h in ("날짜", "종가", "전일비", "시가", "고가", "저가", "거래량"))
        rows = [f"<tr>\n{header}</tr>", blank]
        for i, r in enumerate(chunk, start=1):
            rows.append(self._sise_row(r, changes[r.trade_date]))
            if i == 5 and len(chunk) > 5:
                rows += [blank, rule, blank]
        rows.append(blank)
        inner = (
            '<h4 class="tlline2"><strong><span class="red03">일별</span>시세</strong></h4>\n'
            '<table cellspacing="0" class="type2">\n'
            + "\n".join(rows)
            + "\n</table>\n"
            + self._nnavi(f"/item/sise_day.{suffix}", code, page, last)
        )
        return Response(200, HTML_CT, self._html_page("네이버 금융", inner))

    @staticmethod
    def _sise_row(r: PriceRow, change: int) -> str:
        def num(n: int) -> str:
            return f'<td class="num"><span class="tah p11">{fmt_int(n)}</span></td>'

        prev = r.close - change
        if change == 0:
            change_cell = f'<td class="num">\n<span class="tah p11">\n{fmt_int(0)}\n</span>\n</td>'
        else:
            up = change > 0
            color = "red02" if up else "nv01"
            if r.trade_date.year < 2025:
                # Older markup: an arrow image whose alt carries the sign.
                icon = "ico_up.gif" if up else "ico_down.gif"
                marker = (
                    f'<img src="https://ssl.pstatic.net/imgstock/images/images4/{icon}" width="7" '
                    f'height="6" style="margin-right:4px;" alt="{"상승" if up else "하락"}">'
                )
            else:
                # Newer markup: em.bu_p with a class per sign, the word in span.blind.
                limit = prev > 0 and abs(change) / prev >= 0.295
                cls = ("bu_pup" if up else "bu_pdn") + ("2" if limit else "")
                word = ("상한가" if up else "하한가") if limit else ("상승" if up else "하락")
                marker = f'<em class="bu_p {cls}"><span class="blind">{word}</span></em>'
            amount = fmt_int(abs(change))
            span = f'<span class="tah p11 {color}">\n{amount}\n</span>'
            change_cell = f'<td class="num">\n{marker}{span}\n</td>'
        return (
            '<tr onMouseOver="mouseOver(this)" onMouseOut="mouseOut(this)">\n'
            f'<td align="center"><span class="tah p10 gray03">{r.trade_date:%Y.%m.%d}</span></td>\n'
            f"{num(r.close)}\n{change_cell}\n{num(r.open)}\n{num(r.high)}\n{num(r.low)}\n{num(r.volume)}\n"
            "</tr>"
        )
