"""Pointwise (ERank / Rank1 style): one passage per prompt, the model grades it.

Graded templates (``scale: graded``, the default ``pointwise``): an integer 0–10, ``<answer>7</answer>``;
value is that integer as a float, ``score_max`` = 10.
Binary templates (``scale: binary``, ``pointwise-binary``): ``<answer>true</answer>`` / ``false``; value 1.0 /
0.0, ``score_max`` = 1.

Rules (graded):
* Canonical: the answer is only the integer, without leading zeros (whitespace aside) → not repaired.
* Otherwise ``N/10`` and ``N out of 10`` count as ``N``, then the answer must hold exactly one distinct number (``Score: 7``,
  ``**7**``); it is read with ``repaired``. A number written with decimals is accepted only when it is a whole
  number (``7.0``).
* No number, several different numbers, a fraction such as ``6.5``, or a value outside 0–10 is not ok.
Rules (binary): canonical is ``true`` or ``false`` in any letter case; otherwise exactly one of the words
``true``/``false`` must occur (``repaired``); none or both is not ok.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.prompts.paradigm import Answer, BaseParadigm

_ONLY_INT = re.compile(r"\s*(\d{1,6})\s*")
_OUT_OF_TEN = re.compile(r"(\d)\s*(?:/|out of)\s*10(?![\d.])", re.IGNORECASE)
# A number not glued to other digits or to a decimal point followed by digits (``v1.2.3`` holds none).
# Linear: the look-behinds reject every start position inside a digit run in O(1).
_NUMBER = re.compile(r"(?<!\d)(?<!\d\.)(-?)(\d+)(?:\.(\d+))?(?!\d|\.\d)")
_BOOL_ONLY = re.compile(r"\s*(true|false)\s*", re.IGNORECASE)
_BOOL_WORD = re.compile(r"\b(true|false)\b", re.IGNORECASE)
GRADED_MAX = 10


class Pointwise(BaseParadigm):
    name = "pointwise"
    one_passage_per_prompt = True
    gives_scores = True
    scores_from_logprobs = True
    DEFAULT_REWARDS = ({"name": "pointwise_listwise", "weight": 1.0}, {"name": "format", "weight": 0.1})

    def gold_value(self, grades: Sequence[int], grade_max: int | None = None) -> float:
        """Binary template: true (1.0) for any grade >= 1; graded: the grade on the 0..10 scale."""
        grade = int(next(iter(grades)))
        if self.binary:
            return 1.0 if grade >= 1 else 0.0
        return self._scaled_score(grade, grade_max)

    def random_value(self, num_passages: int, rng: Any) -> float:
        return float(rng.integers(0, int(self.score_max or GRADED_MAX) + 1))

    def __init__(self, template=None, **options):
        super().__init__(template, **options)
        self.binary = self.template.scale == "binary"
        self.score_max = 1.0 if self.binary else float(GRADED_MAX)

    def check_passages(self, passages: Sequence[str]) -> None:
        if len(passages) != 1:
            raise RankrlError(f"pointwise scores one passage per prompt, got {len(passages)} passages")

    def passages_block(self, passages: Sequence[str]) -> str:
        return passages[0]

    def needs_num_passages(self) -> bool:
        return False

    def read_answer(self, answer: str, num_passages: int) -> Answer:
        return self._read_binary(answer) if self.binary else self._read_graded(answer)

    def _read_binary(self, answer: str) -> Answer:
        m = _BOOL_ONLY.fullmatch(answer)
        if m:
            return Answer(value=1.0 if m.group(1).lower() == "true" else 0.0)
        words = {w.lower() for w in _BOOL_WORD.findall(answer)}
        if len(words) == 1:
            return Answer(value=1.0 if words.pop() == "true" else 0.0, repaired=True)
        if not words:
            return Answer(error="answer has neither true nor false")
        return Answer(error="answer says both true and false")

    def _read_graded(self, answer: str) -> Answer:
        m = _ONLY_INT.fullmatch(answer)
        if m:
            score = int(m.group(1))
            if score > GRADED_MAX:
                return Answer(error=f"score {score} is outside 0..{GRADED_MAX}")
            return Answer(value=float(score), repaired=m.group(1) != str(score))  # "07" is not canonical
        values: set[float | None] = set()
        text = ""
        for m in _NUMBER.finditer(_OUT_OF_TEN.sub(r"\1", answer)):
            text = m.group(0)
            values.add(self._number(text))
            if len(values) > 1:  # stop at the second distinct value
                return Answer(error="answer holds several different numbers")
        if not values:
            return Answer(error="answer has no score")
        score = values.pop()
        if score is None:
            return Answer(error=f"score {text[:8]}… is outside 0..{GRADED_MAX}")
        if not score.is_integer():
            return Answer(error=f"score {score:g} is not a whole number")
        if not 0 <= score <= GRADED_MAX:
            return Answer(error=f"score {score:g} is outside 0..{GRADED_MAX}")
        return Answer(value=float(score) + 0.0, repaired=True)

    @staticmethod
    def _number(text: str) -> float | None:
        """Value of a matched number; None when it has too many digits to be a 0–10 score."""
        whole, _, frac = text.lstrip("-").partition(".")
        if len(whole) > 6 or len(frac) > 6:
            return None
        return float(text)

    def format_value(self, value: Any) -> str:
        if isinstance(value, bool):
            value = float(value)
        if (
            not isinstance(value, (int, float))
            or not 0 <= value <= GRADED_MAX
            or not float(value).is_integer()
        ):
            raise RankrlError(f"pointwise value must be a whole number within 0..{GRADED_MAX}, got {value!r}")
        if self.binary:
            if value not in (0, 1):
                raise RankrlError(f"binary pointwise value must be 0 or 1, got {value!r}")
            return "true" if value == 1 else "false"
        return str(int(value))
