"""REARANK's ranking reward, as far as it is public.

What is public (checked 2026-12-02): lezhang7/Rearank@abb4bd024b1ec65567f2a86195a62c3573d90d54 ships inference
only — its README's "Training" section says "Comming soon", and no reward code exists in the repository. The
paper (arXiv:2505.20046) describes the reward as a *normalised relative improvement* of nDCG@10 over the window's
initial order, and its released training data (Hugging Face ``le723z/rearank_12k``) stores for every window the
initial order's metrics (``metrics``) and the best achievable ones (``best_metrics``, e.g. NDCG@10 0.4473 and
0.6303), which is what that normalisation needs.

What this reward computes (the part those sources pin down):

    (nDCG@10(answer) − nDCG@10(shown order)) / (nDCG@10(ideal order) − nDCG@10(shown order))

with 0 when the shown order is already ideal. On rankrl rows this equals ``listwise_delta_ndcg`` (with
``normalise_losses=False``) exactly: rankrl's nDCG uses the window's own grades, so the ideal's nDCG is 1, while
REARANK's ``best_metrics`` (0.6303 above) are computed against the query's full qrels — but the ratio is the same
either way, because both nDCGs of a window share the same ideal DCG, which cancels.

What is not public, and so is *not* reproduced: REARANK's answer parser (rankrl's listwise parser and format gate
are used: a repaired answer is scored as repaired), the weight of this term against its format terms (the
paper's figures could not be checked from the stored text; the docs list "0.8 weight and format bonuses" as
unverified), the exact format rule, and how a loss (an answer worse than the shown order) is scaled. Recipes
combine this reward with ``format`` explicitly, and say so.
"""

from __future__ import annotations

from rankrl.rewards.listwise import ListwiseDeltaNDCG


class RearankDeltaNDCG(ListwiseDeltaNDCG):
    """Normalised relative nDCG@k improvement over the shown order (REARANK's public part; see the module doc)."""

    name = "rearank_delta_ndcg"
    paradigms = ("listwise",)

    def __init__(self, paradigm="listwise", format_gate="zero", parser=None, *, k: int = 10):
        super().__init__(paradigm, format_gate, parser, k=k, normalise_losses=False)

    def params(self) -> dict[str, int]:
        return {"k": self.k}
