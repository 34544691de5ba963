"""Setwise (Rank-R1 style): the model picks the single most relevant passage, ``<answer>[3]</answer>``.

Value: the 0-based index of the chosen passage. Rules:
* Labels ``[i]`` in the answer are read; when there is none, an answer that is only an integer (``3``) is
  accepted as that id (``repaired``).
* No id at all, an id outside ``1..n``, or several *different* ids (``[2] or [5]``) is not ok: an ambiguous or
  impossible pick is never turned into "the first passage". The same id repeated (``[3] … [3]``) is one pick.
* ``repaired`` is false exactly when the answer is the canonical ``[i]`` (whitespace aside).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.prompts.labels import bracketed_ids, compact, to_id
from rankrl.prompts.paradigm import Answer, BaseParadigm

_ONLY_INT = re.compile(r"\s*(\d+)\s*")


class Setwise(BaseParadigm):
    name = "setwise"
    DEFAULT_REWARDS = ({"name": "setwise_choice", "weight": 1.0},)

    def gold_value(self, grades: Sequence[int], grade_max: int | None = None) -> int:
        """The first shown passage with the top grade."""
        grades = list(grades)
        return grades.index(max(grades))

    def random_value(self, num_passages: int, rng: Any) -> int:
        return int(rng.integers(num_passages))

    def read_answer(self, answer: str, num_passages: int) -> Answer:
        ids = bracketed_ids(answer)
        bare = False
        if not ids:
            m = _ONLY_INT.fullmatch(answer)
            if m is None:
                return Answer(error="answer has no passage id")
            ids, bare = [to_id(m.group(1))], True
        distinct = list(dict.fromkeys(ids))
        if len(distinct) > 1:
            shown = ", ".join(f"[{i}]" if i >= 0 else "[<huge>]" for i in distinct[:5])
            return Answer(error=f"answer names several different passages: {shown}")
        pick = distinct[0]
        if not 1 <= pick <= num_passages:
            return Answer(error=f"passage id {pick if pick >= 0 else '<huge>'} is outside 1..{num_passages}")
        canonical = compact(answer) == f"[{pick}]"
        return Answer(value=pick - 1, repaired=bare or not canonical)

    def format_value(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RankrlError(f"setwise value must be a 0-based passage index (int >= 0), got {value!r}")
        return f"[{value + 1}]"
