"""Elimination (IRanker): the model names the *least* relevant of the remaining passages, ``passage 3``.

IRanker (ulab-uiuc/IRanker@f32eb9eec753b69f4ba915a9dd9832601d5949b4) ranks n candidates by n-1 such steps: each
answer removes one passage, and the passages come out in reverse order of relevance (eval/eval_passage.py:
process_batch). Passages are shown as ``passage i: text`` lines (examples/data_preprocess/dataset/data_ms_marco/
process_passage.py:format_passages) and the answer is the label itself.

Value: the 0-based index of the passage to eliminate. Reading rules (the first non-empty line of the answer block,
as IRanker's reward reads the first line):
* ``passage 3`` exactly is canonical; ``Passage 3``, ``passage 3.``, ``[3]``, ``3`` and ``passage [3]`` are read
  as id 3 and flagged ``repaired``;
* anything else on that line (two ids, words around the id), an id outside ``1..m``, or an empty answer is not ok.
IRanker's own reward is stricter (only the exact label counts; see ``rewards.iranker``); its evaluation script is
looser (fuzzy matching onto a candidate, never a failure). This parser sits between: a failed parse lets the
``elimination`` strategy fall back to dropping the passage the first stage ranks lowest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.prompts.labels import MAX_DIGITS
from rankrl.prompts.paradigm import Answer, BaseParadigm
from rankrl.prompts.passages import fill
from rankrl.prompts.tags import contains_tag

_LENIENT = re.compile(r"(?:passage\s*)?\[?\s*(\d+)\s*\]?\s*[.!]?", re.IGNORECASE)


class Elimination(BaseParadigm):
    name = "elimination"
    DEFAULT_REWARDS = ({"name": "iranker_elimination", "weight": 1.0},)
    rows_are_steps = True
    """Training rows are the n-1 elimination steps of each group (``data.elimination_rows``), not the group."""

    def check_passages(self, passages: Sequence[Any]) -> None:
        if len(passages) < 2:
            raise RankrlError(f"elimination needs at least two passages to eliminate one, got {len(passages)}")

    def label(self, index: int) -> str:
        """The label of the passage shown at 0-based ``index`` (``passage 1`` for the first, by the template)."""
        return fill(self.template.passages.label, i=str(index + 1))

    def labels(self, num_passages: int) -> list[str]:
        """The labels of ``num_passages`` shown passages, in order (what IRanker's reward matches exactly)."""
        return [self.label(i) for i in range(num_passages)]

    def gold_value(self, grades: Sequence[int], grade_max: int | None = None) -> int:
        """The passage to eliminate: the lowest grade; among ties the *last* shown, so that eliminating n-1
        times leaves the passages by grade with ties in shown order (the ideal ranking of the group)."""
        grades = list(grades)
        return min(range(len(grades)), key=lambda i: (grades[i], -i))

    def random_value(self, num_passages: int, rng: Any) -> int:
        return int(rng.integers(num_passages))

    def read_answer(self, answer: str, num_passages: int) -> Answer:
        line = next((ln.strip() for ln in answer.splitlines() if ln.strip()), "")
        if not line:
            return Answer(error="answer is empty")
        exact = {self.label(i): i for i in range(num_passages)}.get(line)
        if exact is not None:
            return Answer(value=exact, repaired=line != answer.strip())
        match = _LENIENT.fullmatch(line)
        if match is None:
            return Answer(error=f"answer {line[:60]!r} is not a passage label such as {self.label(2)!r}")
        digits = match.group(1)
        pick = int(digits) if len(digits) <= MAX_DIGITS else -1
        if not 1 <= pick <= num_passages:
            shown = pick if pick >= 0 else "<huge>"
            return Answer(error=f"passage id {shown} is outside 1..{num_passages}")
        return Answer(value=pick - 1, repaired=True)

    def format_value(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RankrlError(f"elimination value must be a 0-based passage index (int >= 0), got {value!r}")
        return self.label(value)

    def render_answer(self, value: Any, reasoning: str = "") -> str:
        """IRanker's layout: the label alone on its own line inside the answer block (its format terms want the
        newlines), e.g. ``<think>\\n…\\n</think>\\n<answer>\\npassage 3\\n</answer>``."""
        if not isinstance(reasoning, str):
            raise RankrlError(f"reasoning must be a string, got {type(reasoning).__name__}")
        if contains_tag(reasoning):
            raise RankrlError("reasoning must not contain <think>, </think>, <answer> or </answer>")
        opening = "" if self.think_prefilled else "<think>"
        return f"{opening}\n{reasoning.strip()}\n</think>\n<answer>\n{self.format_value(value)}\n</answer>"
