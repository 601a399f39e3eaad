"""Prompt styles for the causal-LM kinds (lora, prompt), and the two verbalizers they score.

``study-2shot`` is the 2023 study's prompt, verbatim (its instruction and two invented examples);
``zero-shot`` the instruction alone; ``k-shot`` the instruction and K examples drawn from the train
part (half up, half down: ``choose_examples``), written like the study's.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

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
K_SHOT = "k-shot"  # the zero-shot instruction, then examples of the train part
PROMPT_CHOICES = (*PROMPT_STYLES, K_SHOT)
_EXAMPLE_MAX_CHARS = 60  # examples are short titles: the prompt stays short


def prefix(style: str, examples: Sequence[tuple[str, int]] = ()) -> str:
    """The fixed text before the title (identical for every post: computed once at inference);
    ``examples`` (title, 1 = up) are a k-shot prompt's."""
    if style == K_SHOT:
        shown = "".join(f"[제목]: {' '.join(title.split())}\n[정답]: {UP if label == 1 else DOWN}\n\n"
                        for title, label in examples)
        return _ZERO_SHOT.removesuffix("[제목]: ") + shown + "[제목]: "
    try:
        return PROMPT_STYLES[style]
    except KeyError:
        raise ValueError(f"unknown prompt style {style!r}; choose one of {', '.join(PROMPT_CHOICES)}") from None


def choose_examples(texts: Sequence[str], labels: Sequence[int], shots: int, seed: int) -> list[tuple[str, int]]:
    """``shots`` examples of a k-shot prompt from the train part: half up, half down (titles of at
    most 60 characters where there are enough), in a seeded random order; the same texts, labels and
    seed give the same prompt."""
    rng = random.Random(seed)
    chosen: list[tuple[str, int]] = []
    for label in (1, 0):
        pool = [" ".join(t.split()) for t, y in zip(texts, labels) if int(y) == label and t.strip()]
        short = [t for t in pool if len(t) <= _EXAMPLE_MAX_CHARS] or pool
        want = shots // 2 + (shots % 2 if label == 1 else 0)
        chosen += [(t, label) for t in rng.sample(short, min(want, len(short)))]
    rng.shuffle(chosen)
    return chosen


def suffix(title: str) -> str:
    """The per-post text: the title, then the answer cue the verbalizer follows."""
    return " ".join(title.split()) + _ANSWER


def render(style: str, title: str, label: str | None = None) -> str:
    """The whole prompt as the study wrote it (training text when ``label`` is given)."""
    text = prefix(style) + suffix(title)
    return text + " " + label + "<|endoftext|>" if label is not None else text
