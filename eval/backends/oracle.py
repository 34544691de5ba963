"""A deterministic backend that answers from the qrels, instantly.

It reads which passages a prompt shows from ``Prompt.docids`` and writes, through the paradigm's
``render_answer``, the answer a perfect reranker would give: the paradigm's ``gold_value`` of the shown grades
(the best-graded passage, the passages by grade, the grade as score, ...; ties keep the shown order). It checks strategies end to end (a perfect model must reach the ideal
ranking) and measures the harness's own overhead (``benchmarks/harness.py``). ``fail_every=n`` makes every n-th
prompt (by a hash of its id) malformed, to exercise the fallbacks. Token counts are ``len(text) // 4`` unless a
tokenizer is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankrl.eval.backends.base import Generation, Prompt, Sampling

MALFORMED = "<think>I am not sure.</think> no answer"


@dataclass
class OracleBackend:
    qrels: Mapping[str, Mapping[str, int]]
    paradigm: Any
    model_id: str = "oracle"
    batch_size: int = 1_000_000
    fail_every: int = 0
    reasoning: str = "Ranking by the judged relevance grades."
    tokenizer: Any = None
    calls: list[int] = field(default_factory=list)
    """Size of every ``generate`` call, in order (tests count calls and generated prompts)."""

    def value(self, prompt: Prompt) -> Any:
        """The paradigm's gold answer for the shown passages (``BaseParadigm.gold_value``; grades are the scores,
        capped at the paradigm's scale)."""
        return self.paradigm.gold_value([self.qrels.get(prompt.qid, {}).get(d, 0) for d in prompt.docids])

    def _fails(self, prompt: Prompt) -> bool:
        if self.fail_every <= 0:
            return False
        digest = hashlib.sha256(prompt.prompt_id.encode()).digest()
        return int.from_bytes(digest[:4], "little") % self.fail_every == 0

    def _count(self, text: str) -> int:
        if self.tokenizer is not None:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return max(1, len(text) // 4)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        self.calls.append(len(prompts))
        out = []
        for prompt in prompts:
            text = MALFORMED if self._fails(prompt) else self.paradigm.render_answer(self.value(prompt),
                                                                                     self.reasoning)
            logprobs = None
            if sampling.logprobs > 0 and self.paradigm.scores_from_logprobs and not self._fails(prompt):
                answer = text.rsplit("<answer>", 1)[1].split("</answer>", 1)[0]
                logprobs = [(answer, {answer: 0.0})]
            out.append(Generation(text=text, prompt_tokens=self._count("".join(c for _, c in prompt.messages)),
                                  completion_tokens=self._count(text), answer_logprobs=logprobs,
                                  finish_reason="stop"))
        return out


def ideal_ndcg_order(qrels: Mapping[str, int], docids: Sequence[str]) -> list[str]:
    """The candidates by grade (ties in given order): the best ranking of this candidate set."""
    position = {d: i for i, d in enumerate(docids)}
    return sorted(docids, key=lambda d: (-qrels.get(d, 0), position[d]))
