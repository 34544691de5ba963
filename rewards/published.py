"""Base of the rewards that reproduce a published system's reward rule on the raw completion text.

rankrl's own rewards (``rewards.base.Reward``) score the value that ``prompts`` parsed, under rankrl's format gate.
A published reward is different: its rule *is* a regular expression over the text and a fixed value for each
failure (Rank-R1: 0; ReasonRank: -1 or 0; IRanker: -1, -0.5 and the format terms). Reproducing it exactly means
reading the text the way the publication did, so these rewards bypass the paradigm's parser and the format gate
(the recipe's ``format_gate`` is accepted and has no effect on them). The paradigm still names how passages are
labelled (IRanker's ``passage 3``) and whether the assistant turn was pre-filled.

Columns are read and checked like every rankrl reward (``relevance`` aligned with the passages shown, ``docids``
when given); a row without labels gets ``None`` (TRL skips it); malformed model text is a value, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.rewards.base import Reward
from rankrl.rewards.columns import check_docids, column, completion_text, row_grades


def assistant_text(paradigm: Any, completion: Any) -> str:
    """The assistant turn as the publication scored it: the completion text, preceded by ``<think>`` when the
    chat template opened the think block itself (``think_prefilled``) — the published models wrote that tag."""
    text = completion if type(completion) is str else completion_text(completion)
    return "<think>" + text if getattr(paradigm, "think_prefilled", False) else text


class PublishedReward(Reward):
    """Subclasses implement :meth:`rule`: one row's value from its text, grades, docids and index."""

    def rule(self, text: str, grades: list, docids: list[str] | None, row: int, kwargs: dict[str, Any]) -> float:
        raise NotImplementedError  # pragma: no cover - abstract

    def score(self, rows, kwargs):  # pragma: no cover - the text rule replaces the parsed-value path
        raise NotImplementedError

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        num = len(completions)
        grades_col = column(kwargs, "relevance", num, self.name)
        docids_col = column(kwargs, "docids", num, self.name) if kwargs.get("docids") is not None else None
        out: list[float | None] = []
        for i, completion in enumerate(completions):
            grades = row_grades(grades_col[i], i, self.name, self.single_passage)
            if grades is None:
                out.append(None)
                continue
            docids = None
            if docids_col is not None:
                check_docids(docids_col[i], len(grades), i, self.name)
                docids = [str(d) for d in docids_col[i]]
            value = float(self.rule(assistant_text(self.paradigm, completion), grades, docids, i, kwargs))
            if not math.isfinite(value):  # pragma: no cover - every rule returns finite values
                raise RankrlError(f"reward {self.name!r}: row {i} gave a non-finite value {value!r}")
            out.append(value)
        return out
