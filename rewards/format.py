"""The format reward: does the completion follow ``<think>…</think><answer>…</answer>`` with a usable answer?

It is the one reward not subject to the format gate (it *is* the format signal). It needs no labels, only the
number of passages shown, read from ``relevance`` or ``docids`` (pointwise: always 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.prompts.base import Parsed
from rankrl.rewards.base import Reward
from rankrl.rewards.columns import column, completion_text, num_passages

MODES = ("strict", "partial")


def partial_credit(text: str, parsed: Parsed, think_prefilled: bool = False) -> float:
    """Four quarters, so a model climbing towards the format is rewarded at each step:

    +0.25  one think block before any answer: exactly one ``</think>``, preceded by exactly one ``<think>`` (with
           a pre-filled think, no ``<think>`` at all also counts), and no ``<answer>`` before that ``</think>``;
    +0.25  one answer block: exactly one ``<answer>`` followed by exactly one ``</answer>``;
    +0.25  the answer parses to a usable value (``parsed.ok``);
    +0.25  the whole completion is well formed and the value needed no repair (``format_ok and not repaired``).
    """
    credit = 0.0
    n_open, n_close = text.count("<think>"), text.count("</think>")
    if n_close == 1:
        close = text.index("</think>")
        opened = (n_open == 1 and text.index("<think>") < close) or (think_prefilled and n_open == 0)
        if opened and "<answer>" not in text[:close]:
            credit += 0.25
    n_answer, n_answer_close = text.count("<answer>"), text.count("</answer>")
    if n_answer == 1 and n_answer_close == 1 and text.index("<answer>") < text.index("</answer>"):
        credit += 0.25
    if parsed.ok:
        credit += 0.25
        if parsed.format_ok and not parsed.repaired:
            credit += 0.25
    return credit


class FormatReward(Reward):
    """``strict``: 1 if the format is ok (one think block then one answer block, nothing else) and the answer
    parses to a usable value, else 0. ``partial``: the four-quarter credit of :func:`partial_credit`."""

    name = "format"
    paradigms = ("setwise", "listwise", "pointwise", "groupwise")

    def __init__(
        self, paradigm: Any = "listwise", format_gate: str = "zero", parser=None, *, mode: str = "strict"
    ):
        super().__init__(paradigm, format_gate, parser)
        if mode not in MODES:
            raise RankrlError(f"reward 'format': mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode

    def params(self) -> dict[str, Any]:
        return {"mode": self.mode}

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        single = self.single_passage
        if not single and kwargs.get("relevance") is None and kwargs.get("docids") is None:
            raise RankrlError(
                "reward 'format' needs the dataset column 'relevance' or 'docids' to know how many passages each "
                "prompt showed (both are missing)"
            )
        for name in ("relevance", "docids"):
            if kwargs.get(name) is not None:
                column(kwargs, name, len(completions), self.name)  # aligned with the completions
        prefilled = bool(getattr(self.paradigm, "think_prefilled", False))
        if self.parser is not None:
            self.parser.expect(len(completions))  # the shared cache keeps the whole batch for the other rewards
        out: list[float | None] = []
        for i, completion in enumerate(completions):
            n = 1 if single else num_passages(kwargs, i)
            if n is None:
                out.append(None)  # this row carries neither column: no reward
                continue
            text = completion_text(completion)
            parsed = self._parse(text, n)
            if self.mode == "strict":
                out.append(1.0 if parsed.ok and parsed.format_ok else 0.0)
            else:
                out.append(partial_credit(text, parsed, prefilled))
        return out
