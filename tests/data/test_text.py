"""The text of a row: a cleaned body, and the title then the body's head within a budget."""

from __future__ import annotations

import pytest

from finsent.data.text import BODY_MAX_CHARS, TextSpec, clean_body, head_tokens


@pytest.mark.parametrize(("raw", "clean"), [
    ("저는<br>내일 반등 &amp; 매수<br/>봅니다", "저는\n내일 반등 & 매수\n봅니다"),
    ('<p>차트 <img src="https://x/y.png"> 보세요</p><div>지지선</div>', "차트 보세요\n지지선"),
    ("[이미지] 사진 보세요 [사진1] (동영상)", "사진 보세요"),
    ("기사 https://n.news.naver.com/mnews/article/015/0005112233 참고 www.hankyung.com/a", "기사 참고"),
    ("상담 open.kakao.com/o/xyz 또는 bit.ly/3ab 으로, 3.5% 올랐네", "상담 또는 으로, 3.5% 올랐네"),
    ("ㅋㅋㅋㅋㅋㅋㅋㅋ 가즈아아아아아!!!!!!", "ㅋㅋㅋ 가즈아아아!!!"),
    ("  여러   줄\r\n\r\n\r\n   공백\t\t정리  ", "여러 줄\n공백 정리"),
    ("A < B & C > D 는 말장난", "A < B & C > D 는 말장난"),  # plain text keeps its brackets
    ("보이지\u200b않는\u202e문자", "보이지않는문자"),
    (None, ""), ("", ""),
])
def test_clean_body(raw, clean):
    assert clean_body(raw) == clean
    assert clean_body(clean) == clean  # idempotent: a snapshot's body cleans to itself in the pyfunc


def test_a_paste_is_capped_at_a_space():
    pasted = ("반등 " * 3000).strip()
    cleaned = clean_body(pasted)
    assert len(cleaned) <= BODY_MAX_CHARS and cleaned.endswith("반등")


def test_the_budget_keeps_the_title_whole_then_the_head_of_the_body():
    spec = TextSpec("title+body", tokens=6)
    whole = spec.compose("삼성 어떻게 보세요?", "<p>저는 내일 반등 봅니다 진짜로</p>")
    assert whole == "삼성 어떻게 보세요?\n저는 내일 반등"
    assert spec.compose("하나 둘 셋 넷 다섯 여섯 일곱", "본문") == "하나 둘 셋 넷 다섯 여섯 일곱"  # no room left
    assert spec.compose("제목", None) == "제목"
    assert TextSpec("title").compose("제목", "본문") == "제목"
    assert head_tokens("a b\nc d", 3) == "a b\nc"
    body = spec.body("삼성 어떻게 보세요?", "저는 내일 반등 봅니다")
    assert spec.compose("삼성 어떻게 보세요?", body) == spec.compose("삼성 어떻게 보세요?", "저는 내일 반등 봅니다")
    assert TextSpec.from_json(spec.to_json()) == spec and TextSpec.from_json(None) == TextSpec("title")
    with pytest.raises(ValueError):
        TextSpec("body")


def test_comments_come_after_the_body_within_the_budget_and_read_again_are_themselves():
    spec = TextSpec("title+body+comments", tokens=8)
    assert spec.reads_body and spec.reads_comments and not TextSpec("title+body").reads_comments
    comments = "저도 반등 봅니다\n<b>손절</b> ㅋㅋㅋㅋㅋ"
    assert spec.compose("삼성 어때요", "본문 한줄", comments) == "삼성 어때요\n본문 한줄\n저도 반등 봅니다\n손절"
    assert spec.compose("삼성 어때요", None, comments) == "삼성 어때요\n저도 반등 봅니다\n손절 ㅋㅋㅋ"
    frozen = spec.body("삼성 어때요", "본문 한줄", comments)  # what a snapshot keeps in its body column
    assert spec.compose("삼성 어때요", frozen) == spec.compose("삼성 어때요", "본문 한줄", comments)
    # a spec that reads no comments ignores them, wherever they come from
    assert TextSpec("title+body", tokens=8).compose("삼성 어때요", "본문 한줄", comments) == "삼성 어때요\n본문 한줄"
    assert spec.compose_all(["a", "b"], ["x", None], ["c1", float("nan")]) == ["a\nx\nc1", "b"]
