"""ReasonRank's multi-view ranking reward, exactly as published.

Source: 8421BCD/ReasonRank@e6d3ab4c1d76a4430977214ad475c9b4d0cb317a:verl/verl/utils/reward_score/ranking.py:
compute_score (with clean_response and compute_metric), the pattern from listwise_prompt_r1.toml at the same
commit, and RBO from the ``rbo`` package (PyPI rbo 0.1.3, rbo/rbo.py:RankingSimilarity.rbo, defaults k=None,
p=1.0, ext=False).

The rule, for one completion of a window of n passages (``initial_list`` = the window's docids in shown order,
``relevant_docids`` = its relevant passages, ``ground_truth`` = the gold ranking written ``[a] > [b] > …``):

1. ``re.search('<think>.*?</think>\\s*<answer>(.*?)</answer>', text, DOTALL)``; no match: **-1**.
2. Every character of the answer that is not a digit (``str.isdigit``) becomes a space; the answer's ids are the
   whitespace-separated runs of digits. The gold ids come from the gold ranking the same way.
3. Unless the answer has as many ids as the gold list *and* as many distinct ids: **0**. (Only counts are
   compared: ``21`` or ``0`` in place of a real id passes.)
4. Ids are turned into 0-based positions ``int(id) - 1`` (a digit ``int`` cannot read: **0**); positions at or
   beyond n are dropped, and ``0`` becomes position -1, i.e. Python's *last* passage. The predicted docids get
   scores -(rank+1) in a dict, so a docid named twice keeps its *last* rank.
5. nDCG@10 and Recall@10 by pytrec_eval (``ndcg_cut.10``, ``recall.10``) with every relevant docid at grade 1.
6. RBO of the answer's id strings against the gold id strings, p = 1.0 (the average overlap: the mean over depths
   d = 1..min(len) of |top-d overlap| / d, computed with the package's running-mean recurrences), bounded to [0, 1].
7. **nDCG@10 + 0.2·Recall@10 + 0.1·RBO**.

What rankrl supplies for the published columns: ``initial_list`` is the row's ``docids`` (positions as docids when
the row has none); ``relevant_docids`` are the passages with grade >= ``rel_level`` (1); the gold ranking is the
row's ``gold_order`` column when present (0-based positions, best first: ReasonRank's gold list is its teacher's
full ranking, ``final_list``), else the passages by grade, ties in shown order. One case the published code does
not survive: a window without a relevant passage (pytrec_eval returns no entry and ``res[qid]`` raises KeyError);
here nDCG and recall count 0 there.

The ``rbo`` package is not a dependency: its p = 1 path is the few recurrences in :func:`rbo_p1`, written here
(and tested against hand-computed values) rather than adding a package that also pulls in tqdm progress bars per
call. pytrec_eval is already rankrl's metric engine, so nDCG and recall use it directly, as the publication did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytrec_eval

from rankrl.core.errors import RankrlError
from rankrl.rewards.published import PublishedReward

PATTERN = re.compile(r"<think>.*?</think>\s*<answer>(.*?)</answer>", re.DOTALL)
_QID = "1"


def digit_ids(text: str) -> list[str]:
    """ReasonRank's clean_response + split: non-digit characters become spaces, the digit runs are the ids."""
    return "".join(c if c.isdigit() else " " for c in text).split()


def rbo_p1(s: Sequence[str], t: Sequence[str]) -> float:
    """``rbo.RankingSimilarity(s, t).rbo()`` (k=None, p=1.0, ext=False): the average overlap at depth min(len).

    Both lists must be free of duplicates (the package asserts it; ReasonRank's count check guarantees it).
    The arithmetic follows the package's recurrences (agreement A_d and its running mean AO_d) so floating-point
    results match it, then the package's bound to [0, 1].
    """
    if not s and not t:
        return 1.0
    if not s or not t:
        return 0.0
    k = min(len(s), len(t))
    agreement = 1 if s[0] == t[0] else 0
    average = 1.0 if s[0] == t[0] else 0
    seen_s, seen_t = {s[0]}, {t[0]}
    for d in range(1, k):
        hits = (s[d] in seen_t) + (t[d] in seen_s) + (s[d] == t[d])
        agreement = 1.0 * (agreement * d + hits) / (d + 1)
        average = (average * d + agreement) / (d + 1)
        seen_s.add(s[d])
        seen_t.add(t[d])
    if 0 <= average <= 1 or abs(1 - average) <= 1e-8 + 1e-5 * abs(average):  # np.isclose(1, value)
        return float(average)
    return min(1.0, max(0.0, float(average)))


def ndcg_recall_at_10(ranked: Sequence[str], relevant: set[str]) -> tuple[float, float]:
    """pytrec_eval ndcg_cut_10 and recall_10 of ``ranked`` (best first) with every relevant docid at grade 1.

    ``ranked`` may name a docid twice: like the published dict of scores, the later position wins."""
    if not relevant:
        return 0.0, 0.0
    scores = {docid: -(rank + 1) for rank, docid in enumerate(ranked)}
    evaluator = pytrec_eval.RelevanceEvaluator({_QID: {d: 1 for d in relevant}}, {"ndcg_cut.10", "recall.10"})
    result = evaluator.evaluate({_QID: scores}).get(_QID)
    if result is None:  # pragma: no cover - pytrec_eval answers every query that has qrels
        return 0.0, 0.0
    return float(result["ndcg_cut_10"]), float(result["recall_10"])


def gold_ids(grades: list, gold_order: Any, row: int, reward: str) -> list[str]:
    """The gold list as 1-based id strings: ``gold_order`` (0-based positions) or the passages by grade."""
    n = len(grades)
    if gold_order is None:
        order = sorted(range(n), key=lambda i: (-grades[i], i))
    else:
        order = list(gold_order)
        if sorted(order) != list(range(n)) or any(isinstance(i, bool) for i in order):
            raise RankrlError(
                f"reward {reward!r}: column 'gold_order' row {row} must be a permutation of 0..{n - 1}, "
                f"got {gold_order!r}"
            )
    return [str(i + 1) for i in order]


class ReasonRankMultiView(PublishedReward):
    """nDCG@10 + 0.2·Recall@10 + 0.1·RBO(p=1) with ReasonRank's -1 / 0 failure values (see the module doc)."""

    name = "reasonrank_multiview"
    paradigms = ("listwise",)

    def __init__(self, paradigm: Any = "listwise", format_gate: str = "zero", parser=None, *, rel_level: int = 1):
        super().__init__(paradigm, format_gate, parser)
        if isinstance(rel_level, bool) or not isinstance(rel_level, int) or rel_level < 1:
            raise RankrlError(f"reward {self.name!r}: rel_level must be a positive integer, got {rel_level!r}")
        self.rel_level = rel_level

    def params(self) -> dict[str, Any]:
        return {"rel_level": self.rel_level}

    def rule(self, text: str, grades: list, docids: list[str] | None, row: int, kwargs: dict[str, Any]) -> float:
        match = PATTERN.search(text)
        if match is None:
            return -1.0
        gold_col = kwargs.get("gold_order")
        gold = gold_ids(grades, None if gold_col is None else gold_col[row], row, self.name)
        pred = digit_ids(match.group(1))
        if len(pred) != len(gold) or len(set(pred)) != len(set(gold)):
            return 0.0
        try:
            positions = [int(x) - 1 for x in pred]
        except ValueError:  # a character str.isdigit accepts but int() does not (e.g. a superscript two)
            return 0.0
        window = docids if docids is not None else [str(i) for i in range(len(grades))]
        ranked = [window[p] for p in positions if p < len(window)]
        relevant = {d for d, g in zip(window, grades) if g >= self.rel_level}
        ndcg10, recall10 = ndcg_recall_at_10(ranked, relevant)
        return ndcg10 + 0.2 * recall10 + 0.1 * rbo_p1(pred, gold)
