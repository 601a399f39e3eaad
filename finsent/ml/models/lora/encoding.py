"""From titles to the token ids the model sees: the whole prompt tokenised at once.

Tokenisers do not split where the prompt template ends: a byte-level BPE glues a space to the word
after it, a SentencePiece tokenizer turns spaces into "▁" and prepends one to the text it is given.
Tokenising the fixed prefix apart from the title therefore shows the model ids it never sees in a
whole prompt. So every post is tokenised as one string (BOS, if the tokenizer adds one, + prefix +
title + answer cue), and the prefix cache holds the longest run of ids that all posts of a call
share with the prefix's own ids. The verbaliser ids are read off whole prompts too: prompt +
" [상승]" against prompt + " [하락]".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from finsent.errors import FinsentError
from finsent.ml.models.prompts import ANSWERS, prefix, suffix

# A title that stands for any title when the answer ids are read off a whole prompt: the answer
# follows the fixed cue "\n[정답]:", so its ids do not depend on the title before the cue.
_PROBE_TITLE = "오늘 주가"


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PromptEncoder:
    """Token ids of whole prompts for one tokenizer and prompt (its style, and a k-shot prompt's
    examples: (title, 1 = up))."""

    def __init__(self, tokenizer: Any, prompt: str, max_title_tokens: int,
                 examples: Sequence[tuple[str, int]] = ()) -> None:
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.max_title_tokens = max_title_tokens
        self.prefix_text = prefix(prompt, examples)
        self.bos = self._bos()
        self.prefix_ids = self.ids(self.prefix_text)
        self.answer_shared, self.up_id, self.down_id = self._answer_ids()

    def _bos(self) -> list[int]:
        """[BOS] when the tokenizer adds one of its own accord (Llama), else [] (GPT-NeoX)."""
        bos = self.tokenizer.bos_token_id
        with_special = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        plain = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        if bos is not None and with_special[:1] == [bos] and plain[:1] != [bos]:
            return [bos]
        return []

    def ids(self, text: str) -> list[int]:
        return self.bos + list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _answer_ids(self) -> tuple[list[int], int, int]:
        """(answer ids both verbalisers share, first id where up differs, where down differs),
        read off whole prompts so that a SentencePiece dummy "▁" or a merge cannot creep in."""
        question = self.ids(self.prefix_text + suffix(_PROBE_TITLE))
        answers = []
        for answer in ANSWERS:
            whole = self.ids(self.prefix_text + suffix(_PROBE_TITLE) + answer)
            if whole[:len(question)] != question:
                raise FinsentError(f"the tokenizer merges the answer {answer!r} into the prompt before it; "
                                   "its verbalisers cannot be scored from the prompt's last token")
            answers.append(whole[len(question):])
        up, down = answers
        shared = common_prefix_length(up, down)
        if shared >= min(len(up), len(down)):
            raise FinsentError("the tokenizer cannot tell the verbalizers apart")
        return up[:shared], up[shared], down[shared]

    def encode(self, titles: Sequence[str]) -> list[list[int]]:
        """Per post: the ids of the whole prompt (BOS, prefix, title, cue) + the shared answer ids.
        A title longer than ``max_title_tokens`` is cut (by characters, then tokenised again), so
        the ids stay those of a whole prompt."""
        texts = [" ".join(t.split()) for t in titles]
        rows = [self.bos + ids for ids in self.tokenizer([self.prefix_text + suffix(t) for t in texts],
                                                          add_special_tokens=False)["input_ids"]]
        budget = len(self.prefix_ids) + self.max_title_tokens
        for i, row in enumerate(rows):
            title = texts[i]
            while len(row) > budget and title:
                title = title[:max(0, int(len(title) * budget / len(row)) - 1)]
                row = self.ids(self.prefix_text + suffix(title))
            rows[i] = row
        return [row + self.answer_shared for row in rows]

    def split(self, rows: Sequence[Sequence[int]]) -> tuple[list[int], list[list[int]]]:
        """(ids every row shares with the prefix: computed once, per-row rest: run per post)."""
        shared = len(self.prefix_ids)
        for row in rows:
            shared = min(shared, len(row) - 1)
            if row[:shared] != self.prefix_ids[:shared]:  # (a C-speed check first: most rows agree)
                shared = common_prefix_length(self.prefix_ids[:shared], row)
        return list(self.prefix_ids[:shared]), [list(row[shared:]) for row in rows]
