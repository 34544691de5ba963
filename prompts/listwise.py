"""Listwise (REARANK / ReasonRank style): the model orders all passages, ``<answer>[3] > [1] > [2]</answer>``.

Value: a full 0-based permutation of ``range(n)``. Rules:
* Labels ``[i]`` in the answer are read in order; when there is none, an answer made only of integers joined by
  ``>`` (``3 > 1 > 2``) is read the same way (``repaired``).
* Repair: duplicates dropped (first mention kept), ids outside ``1..n`` dropped, missing ids appended in shown
  order.
* An answer with no id, or with no id inside ``1..n``, is not ok (there is nothing to repair from).
* ``repaired`` is false exactly when the answer is the canonical ``[a] > [b] > …`` listing every id once
  (whitespace aside); any repair or extra text sets it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import repeat
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.prompts.labels import bare_ids, bracketed_ids, compact
from rankrl.prompts.paradigm import Answer, BaseParadigm

_BARE_CHAIN = re.compile(r"\s*\d+(?:\s*>\s*\d+)*\s*")
# The canonical answer ``[a] > [b] > …`` (whitespace aside, no leading zeros); with ids that form a permutation
# it needs no repair. Checked with one regex instead of rebuilding the canonical string (reward hot path).
_CANONICAL_CHAIN = re.compile(r"\s*\[\s*[1-9]\d*\s*\](?:\s*>\s*\[\s*[1-9]\d*\s*\])*\s*")
# ``"[i]"`` → i − 1 for the group sizes real prompts use (read-only): the fast path of ``read_answer``.
_LABEL_INDEX = {f"[{i}]": i - 1 for i in range(1, 1001)}


def _plain_permutation(answer: str, num_passages: int) -> list[int] | None:
    """The 0-based permutation when ``answer`` is exactly ``[a] > [b] > …`` (the form ``render_answer`` writes)
    naming every id in ``1..n`` once; None for anything else, which then goes through the full rules.

    Such an answer is canonical and a permutation, so it needs no repair: the common case costs one ``split`` and
    a dict lookup per label instead of two regex passes and ``int()`` per id (the reward hot path). The tag scan
    strips the answer; other spacing (``[a]>[b]``, ``[ a ]``) is canonical too but takes the full rules.
    """
    pieces = answer.split(" > ")
    if len(pieces) != num_passages:
        return None
    order = list(map(_LABEL_INDEX.get, pieces, repeat(num_passages)))  # not a plain label -> n: out of range
    if max(order) >= num_passages or len(set(order)) != num_passages:
        return None
    return order


def canonical_permutation(value: Any) -> list[int]:
    """Check that ``value`` is a permutation of ``range(len(value))`` and return it as a list of ints."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise RankrlError(f"listwise value must be a sequence of 0-based indices, got {value!r}")
    perm = list(value)
    if any(isinstance(i, bool) or not isinstance(i, int) for i in perm) or sorted(perm) != list(
        range(len(perm))
    ):
        raise RankrlError(f"listwise value must be a permutation of range({len(perm)}), got {perm!r}")
    if not perm:
        raise RankrlError("listwise value must rank at least one passage")
    return perm


class Listwise(BaseParadigm):
    name = "listwise"
    DEFAULT_REWARDS = ({"name": "listwise_ndcg", "weight": 1.0, "k": 10}, {"name": "format", "weight": 0.1})

    def gold_value(self, grades: Sequence[int], grade_max: int | None = None) -> list[int]:
        """The shown passages by grade, best first; ties keep the shown order."""
        grades = list(grades)
        return sorted(range(len(grades)), key=lambda i: (-grades[i], i))

    def random_value(self, num_passages: int, rng: Any) -> list[int]:
        return [int(i) for i in rng.permutation(num_passages)]

    def read_answer(self, answer: str, num_passages: int) -> Answer:
        order = _plain_permutation(answer, num_passages)
        if order is not None:
            return Answer(value=order)
        ids = bracketed_ids(answer)
        bare = False
        if not ids:
            if _BARE_CHAIN.fullmatch(answer) is None:
                return Answer(error="answer has no passage ids")
            ids, bare = bare_ids(answer), True
        if (  # already a permutation: no repair loop
            not bare
            and len(ids) == num_passages
            and min(ids) >= 1
            and max(ids) <= num_passages
            and len(set(ids)) == num_passages
        ):
            canonical = _CANONICAL_CHAIN.fullmatch(answer) is not None
            return Answer(value=[i - 1 for i in ids], repaired=not canonical)
        seen: set[int] = set()
        order: list[int] = []
        for i in ids:
            if 1 <= i <= num_passages and i not in seen:
                seen.add(i)
                order.append(i - 1)
        if not order:
            return Answer(error=f"answer has no passage id inside 1..{num_passages}")
        fixed = len(order) != len(ids) or len(order) != num_passages
        order.extend(i for i in range(num_passages) if i + 1 not in seen)
        canonical = compact(answer) == ">".join(f"[{i + 1}]" for i in order)
        return Answer(value=order, repaired=bare or fixed or not canonical)

    def format_value(self, value: Any) -> str:
        return " > ".join(f"[{i + 1}]" for i in canonical_permutation(value))
