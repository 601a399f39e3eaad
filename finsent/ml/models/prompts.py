"""Prompt styles for the causal-LM classifier, and the two verbalizers it scores."""

from __future__ import annotations

UP, DOWN = "[상승]", "[하락]"
VERBALIZERS = (UP, DOWN)
# The answer follows "[정답]:" after one space; the space belongs to the verbalizer so the ids of
# prompt + answer equal the ids of the whole string (byte-level BPE glues a space to what follows).
ANSWERS = (" " + UP, " " + DOWN)

# The 2023 study's prompt, verbatim (STUDY.md): instruction, two invented examples, the title.
_STUDY_2SHOT = (
    "주식 종목 토론방에 [제목]의 글이 올라온 다음 날, 주가는 어떻게 되었을까?\n"
    "[상승] 혹은 [하락] 중 하나로 답하여라.\n"
    "\n"
    "[제목]: 장마감 이후 올라온 공시 자료를 보니, 분기 실적이 예상치를 크게 밑도네요ㅠ\n"
    "[정답]: [하락]\n"
    "\n"
    "[제목]: 간밤에 미국 연준의 깜짝 금리 인하 결정에 힘입어 미국 증시 폭등 중이네요. 내일 한국 증시도 기대해 봅니다!\n"
    "[정답]: [상승]\n"
    "\n"
    "[제목]: "
)
_ZERO_SHOT = (
    "주식 종목 토론방에 [제목]의 글이 올라온 다음 날, 주가는 어떻게 되었을까?\n"
    "[상승] 혹은 [하락] 중 하나로 답하여라.\n"
    "\n"
    "[제목]: "
)
_ANSWER = "\n[정답]:"

PROMPT_STYLES: dict[str, str] = {"study-2shot": _STUDY_2SHOT, "zero-shot": _ZERO_SHOT}


def prefix(style: str) -> str:
    """The fixed text before the title (identical for every post: computed once at inference)."""
    try:
        return PROMPT_STYLES[style]
    except KeyError:
        raise ValueError(f"unknown prompt style {style!r}; choose one of {', '.join(PROMPT_STYLES)}") from None


def suffix(title: str) -> str:
    """The per-post text: the title, then the answer cue the verbalizer follows."""
    return " ".join(title.split()) + _ANSWER


def render(style: str, title: str, label: str | None = None) -> str:
    """The whole prompt as the study wrote it (training text when ``label`` is given)."""
    text = prefix(style) + suffix(title)
    return text + " " + label + "<|endoftext|>" if label is not None else text
