"""Scoring protocols that read token probabilities, shared by the transformers and vLLM backends.

Rank1's true/false protocol (orionw/rank1 @30585c2, ``rank1.py``: ``_process_with_vllm`` and
``_fix_incomplete_responses``), reproduced step by step:

1. generate greedily with stop strings ``</think> true`` and ``</think> false`` and the top-20 logprobs per step;
2. if the generation stopped on one of them and both the true and the false token are among the top-20 of the
   last step, the score is ``exp(lp_true) / (exp(lp_true) + exp(lp_false))`` there;
3. otherwise the completion is cut after its last ``.``, ``!`` or ``?`` (when it does not already end with one),
   the prompt becomes ``prompt + "\\n" + cut + "\\n</think>"`` and the next token's true/false log-probabilities
   give the score (the published code generates one token restricted to the two; their ratio is the same).

The true and false tokens are the first tokens of ``" true"`` and ``" false"`` (``tokenizer(" true").input_ids[0]``).
The completion rankrl keeps is the generated text with ``</think> true|false`` appended (the token the scores
favour), so the pointwise parser reads the same verdict and traces show what was scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import ConfigError
from rankrl.eval.backends.base import Generation


def judge_token_ids(tokenizer: Any, judge: tuple[str, str, str]) -> tuple[int, int]:
    """The first token ids of the true and false answers (as Rank1 picks them); they must differ."""
    _, yes, no = judge
    ids = []
    for word in (yes, no):
        out = tokenizer(word, add_special_tokens=False)
        seq = out["input_ids"] if hasattr(out, "keys") else out
        seq = list(getattr(seq, "ids", seq))
        if not seq:
            raise ConfigError(f"the tokenizer writes {word!r} as no token at all; the true-false protocol needs one")
        ids.append(int(seq[0]))
    if ids[0] == ids[1]:
        raise ConfigError(f"the tokenizer starts {yes!r} and {no!r} with the same token ({ids[0]}), so the "
                          "true-false protocol cannot tell them apart")
    return ids[0], ids[1]


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    """(text before the earliest stop string, that stop string) or (text, None)."""
    best: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, stop)
    if best is None:
        return text, None
    return text[:best[0]], best[1]


def clean_for_forcing(text: str) -> str:
    """Rank1's cut before forcing ``</think>``: strip trailing space; if the text does not end with ``.``, ``!``
    or ``?``, cut after the last one (when there is one); strip."""
    text = text.rstrip()
    if not text.endswith((".", "!", "?")):
        last = max(text.rfind("."), text.rfind("!"), text.rfind("?"))
        if last != -1:
            text = text[:last + 1]
    return text.strip()


def forced_prompt(prompt: str, text: str, close: str) -> str:
    """``prompt + "\\n" + cleaned text + "\\n" + close`` (the string Rank1 scores one more token after)."""
    return f"{prompt}\n{clean_for_forcing(text)}\n{close}"


def judged(generation: Generation, judge: tuple[str, str, str], lp_true: float, lp_false: float,
           forced: bool, extra_tokens: int = 0) -> Generation:
    """The generation with the verdict appended and the two log-probabilities kept as the answer's logprobs
    (the pointwise strategy turns them into p(true)/(p(true)+p(false)))."""
    close, yes, no = judge
    word = yes if lp_true >= lp_false else no
    body = generation.text
    text = f"{body}\n{close}{word}" if forced else f"{body}{close}{word}"
    meta = dict(generation.meta)
    meta.update(judge="forced" if forced else "generated")
    return Generation(text=text, prompt_tokens=generation.prompt_tokens,
                      completion_tokens=generation.completion_tokens + extra_tokens,
                      answer_logprobs=[(word, {yes: float(lp_true), no: float(lp_false)})],
                      finish_reason=generation.finish_reason, meta=meta)
