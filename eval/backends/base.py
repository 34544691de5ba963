"""What every generation backend takes and returns.

A backend turns chat prompts into completions. It sees whole batches (the engine gathers the pending prompts of all
queries per round) and reports token counts, so the evaluation can report its cost. Logprobs are optional: only
the few positions after ``<answer>`` are kept (``answer_logprobs``), which is all the pointwise expected score
needs and keeps the completion cache small.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

ANSWER_MARKER = "<answer>"
ANSWER_POSITIONS = 8
"""How many generated positions after ``<answer>`` keep their top logprobs."""


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. ``temperature == 0`` means greedy decoding (the default for evaluation)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    seed: int = 0
    logprobs: int = 0
    """Top alternatives recorded per generated token after ``logprobs_after`` (0: none)."""
    logprobs_after: str = ANSWER_MARKER
    """Where the recorded positions start: right after the last occurrence of this text in the completion
    (``<answer>``: the score token of a pointwise answer), or from the first generated token when "" (FIRST-style
    first-token logits of a listwise answer)."""
    stop: tuple[str, ...] = ()
    """Generation ends once the completion contains one of these strings (the string itself is not kept)."""
    judge: tuple[str, str, str] | None = None
    """Rank1's true/false protocol, (close, true, false) e.g. ("</think>", " true", " false"): generation stops at
    ``close + true`` or ``close + false``; the score is p(true)/(p(true)+p(false)) at the position after
    ``close``, which is forced (appended after the last complete sentence) when the model did not write it or
    when either token is not among the top ``logprobs`` there. See ``backends.protocols``."""

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def key(self) -> dict[str, Any]:
        """The settings that change a completion (what the cache keys on). Greedy decoding ignores seed/top_p.
        Settings left at their defaults are not keyed, so the keys of runs written before they existed hold."""
        data = asdict(self)
        if self.greedy:
            data.pop("seed")
            data.pop("top_p")
            data["temperature"] = 0.0
        for name, default in (("logprobs_after", ANSWER_MARKER), ("stop", ()), ("judge", None)):
            if data[name] == default or (name == "stop" and not data[name]):
                data.pop(name)
            elif isinstance(data[name], tuple):
                data[name] = list(data[name])
        return data

    def all_stops(self) -> list[str]:
        """The stop strings generation uses: ``stop`` plus, with a judge, ``close + true`` and ``close + false``."""
        stops = list(self.stop)
        if self.judge is not None:
            close, yes, no = self.judge
            stops += [close + yes, close + no]
        return stops


@dataclass(frozen=True)
class Prompt:
    """One chat prompt, with where it came from.

    Real backends read only ``messages``; ``qid`` and ``docids`` (the passages shown, in order) serve traces and
    test backends that answer from the qrels. ``sample`` tells intended repeats of one prompt apart when sampling.
    """

    prompt_id: str
    qid: str
    messages: tuple[tuple[str, str], ...]
    docids: tuple[str, ...]
    sample: int = 0

    @staticmethod
    def build(prompt_id: str, qid: str, messages: Sequence[dict[str, str]], docids: Sequence[str],
              sample: int = 0) -> Prompt:
        return Prompt(prompt_id, qid, tuple((m["role"], m["content"]) for m in messages), tuple(docids), sample)

    def chat(self) -> list[dict[str, str]]:
        """The messages in the ``[{"role", "content"}]`` form chat templates take."""
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass
class Generation:
    """A completion and what it cost.

    ``answer_logprobs``: for the first generated positions after ``<answer>``, the chosen token's text and the
    top alternatives' ``{token text: logprob}``; None when the backend was not asked for logprobs.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    answer_logprobs: list[tuple[str, dict[str, float]]] | None = None
    finish_reason: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text, "prompt_tokens": self.prompt_tokens,
                                "completion_tokens": self.completion_tokens, "finish_reason": self.finish_reason}
        if self.answer_logprobs is not None:
            data["answer_logprobs"] = [[tok, top] for tok, top in self.answer_logprobs]
        if self.meta:
            data["meta"] = dict(self.meta)
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> Generation:
        lp = data.get("answer_logprobs")
        return Generation(
            text=str(data["text"]),
            prompt_tokens=int(data["prompt_tokens"]),
            completion_tokens=int(data["completion_tokens"]),
            answer_logprobs=None if lp is None else [(str(t), {str(k): float(v) for k, v in top.items()})
                                                     for t, top in lp],
            finish_reason=str(data.get("finish_reason", "")),
            meta=dict(data["meta"]) if isinstance(data.get("meta"), dict) else {},
        )


class Backend(Protocol):
    """A generation backend.

    model_id:   what the completions depend on besides prompt and sampling (cache key).
    batch_size: the most prompts one ``generate`` call takes; the engine chunks each round to it.
    tokenizer:  a Hugging Face tokenizer for prompt budgets, or None.
    """

    model_id: str
    batch_size: int
    tokenizer: Any

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]: ...


def answer_logprobs(tokens: Sequence[str], tops: Sequence[dict[str, float]],
                    marker: str = ANSWER_MARKER, keep: int = ANSWER_POSITIONS) -> list[tuple[str, dict[str, float]]]:
    """Keep the per-token logprobs of the ``keep`` positions generated right after the last ``marker``.

    ``tokens[i]`` is the decoded text of generated token i, ``tops[i]`` its top alternatives. The answer starts
    at the token after the one that completes the marker (the last marker wins, like the parsers' "last complete
    answer block"). Returns [] when the marker never completes. An empty marker keeps the first ``keep``
    generated positions.
    """
    if not marker:
        return [(tokens[j], dict(tops[j])) for j in range(min(keep, len(tokens)))]
    text = ""
    start = None
    for i, tok in enumerate(tokens):
        before = len(text)
        text += tok
        found = text.rfind(marker, max(0, before - len(marker) + 1))
        if found != -1 and found + len(marker) > before:  # the marker was completed by this token
            start = i + 1
    if start is None:
        return []
    return [(tokens[j], dict(tops[j])) for j in range(start, min(start + keep, len(tokens)))]


def merge_alternatives(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """``{token text: logprob}`` from (text, logprob) pairs; distinct tokens that decode alike add up."""
    out: dict[str, float] = {}
    for text, logprob in pairs:
        out[text] = logprob if text not in out else math.log(math.exp(out[text]) + math.exp(logprob))
    return out


def request_seed(base_seed: int, cache_key: str) -> int:
    """A per-prompt sampling seed: the same prompt gets the same seed whatever batch it lands in (resume-safe)."""
    digest = hashlib.sha256(f"{base_seed}:{cache_key}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
