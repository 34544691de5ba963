"""Groupwise (GroupRank style): the model scores every passage of a group, ``{"[1]": 7, "[2]": 3}``.

Value: a list of ``n`` floats aligned with the shown passages, on the 0–10 scale (``score_max`` = 10).
Reading is ``json.loads`` on the text from the first ``{`` to the last ``}`` of the answer (so code fences and
prose around the object fall away), after light normalisation when strict JSON fails: trailing commas removed,
bare keys (``1:``, ``[1]:``) quoted, single quotes turned into double quotes when the text has no double quote.
Nothing is ever evaluated as code; ``NaN``/``Infinity`` are rejected; answers longer than
``MAX_ANSWER_CHARS`` (20,000, shared by all paradigms) are not read.
Rules:
* Keys name passages as ``"[i]"``, ``"i"`` or ``i``; any other key is not ok. Values are numbers (a numeric
  string such as ``"7"`` is accepted as non-canonical); booleans, lists, objects or non-finite numbers are not ok;
  a score outside 0–10 is not ok.
* Ids outside ``1..n`` are dropped, a repeated id keeps its first score, and passages without a score get 0 (the
  bottom of the scale, as listwise appends missing passages last) — all of these set ``repaired``.
* An answer with no JSON object, or no score for any passage in ``1..n``, is not ok.
* ``repaired`` is false exactly when the answer is one strict JSON object with keys ``"[1]"``…``"[n]"`` once each
  and numeric values (whitespace aside).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.prompts.labels import MAX_DIGITS
from rankrl.prompts.paradigm import Answer, BaseParadigm

SCORE_MAX = 10.0
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_BARE_KEY = re.compile(r"([{,]\s*)(\[\s*\d+\s*\]|\d+)(\s*:)")
_KEY = re.compile(r"\s*\[?\s*(\d+)\s*\]?\s*")
_NUMERIC = re.compile(r"\s*-?\d+(?:\.\d+)?\s*")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a score")


def _load_pairs(text: str) -> list | None:
    """Top-level object as a list of (key, value) pairs (keeps duplicates), or None when not JSON."""
    try:
        out = json.loads(text, object_pairs_hook=list, parse_constant=_reject_constant)
    except (ValueError, RecursionError, TypeError):
        return None
    return out if isinstance(out, list) else None


class Groupwise(BaseParadigm):
    name = "groupwise"
    score_max = SCORE_MAX
    gives_scores = True
    DEFAULT_REWARDS = (
        {"name": "groupwise_ndcg", "weight": 1.0, "k": 10},
        {"name": "distributional", "weight": 0.5},
        {"name": "format", "weight": 0.1},
    )

    def gold_value(self, grades: Sequence[int], grade_max: int | None = None) -> list[float]:
        """Every shown passage's grade on the 0..10 scale."""
        return [self._scaled_score(g, grade_max) for g in grades]

    def random_value(self, num_passages: int, rng: Any) -> list[float]:
        return [float(v) for v in rng.integers(0, int(SCORE_MAX) + 1, size=num_passages)]

    def read_answer(self, answer: str, num_passages: int) -> Answer:
        start, end = answer.find("{"), answer.rfind("}")
        if start < 0 or end < start:
            return Answer(error="answer has no JSON object")
        body = answer[start : end + 1]
        tolerant = body != answer.strip()
        pairs = _load_pairs(body)
        if pairs is None:
            tolerant = True
            fixed = _BARE_KEY.sub(r'\1"\2"\3', _TRAILING_COMMA.sub(r"\1", body))
            if '"' not in body:
                fixed = _BARE_KEY.sub(r'\1"\2"\3', _TRAILING_COMMA.sub(r"\1", body.replace("'", '"')))
            pairs = _load_pairs(fixed)
            if pairs is None:
                return Answer(error="answer is not a readable JSON object")
        scores: dict[int, float] = {}
        fixes = False
        for key, raw in pairs:
            m = _KEY.fullmatch(key)
            if m is None:
                return Answer(error=f"key {key[:40]!r} is not a passage label")
            if isinstance(raw, str) and _NUMERIC.fullmatch(raw):
                raw, tolerant = float(raw), True
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                return Answer(error=f"score for {key[:40]!r} is not a number")
            if not 0 <= raw <= SCORE_MAX:  # compare before float(): a 4,000-digit int would overflow
                return Answer(error=f"score {str(raw)[:20]} for {key[:40]!r} is outside 0..{SCORE_MAX:g}")
            score = float(raw)
            digits = m.group(1)
            pid = int(digits) if len(digits) <= MAX_DIGITS else -1
            if key != f"[{pid}]":  # "1", "[01]", "[１]" are read but are not canonical
                tolerant = True
            if not 1 <= pid <= num_passages or pid in scores:
                fixes = True
                continue
            scores[pid] = score + 0.0
        if not scores:
            return Answer(error=f"answer scores no passage inside 1..{num_passages}")
        if len(scores) != num_passages:
            fixes = True
        return Answer(
            value=[scores.get(i, 0.0) for i in range(1, num_passages + 1)], repaired=fixes or tolerant
        )

    def format_value(self, value: Any) -> str:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise RankrlError(f"groupwise value must be a non-empty list of scores, got {value!r}")
        out = {}
        for i, v in enumerate(value, start=1):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise RankrlError(f"groupwise score {v!r} for [{i}] is not a number")
            if not 0 <= v <= SCORE_MAX:  # also rejects NaN and infinities
                raise RankrlError(f"groupwise score {v!r} for [{i}] is outside 0..{SCORE_MAX:g}")
            out[f"[{i}]"] = int(v) if float(v).is_integer() else float(v)
        return json.dumps(out)
