"""The paradigm contract: build chat messages for a query and its passages, parse a completion.

Every layer (training rows, rewards, evaluation) goes through a ``Paradigm``; nothing else formats or parses
model text. ``parse`` never raises: malformed text is ``Parsed(ok=False, error=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, init=False)
class Parsed:
    """Result of parsing one completion.

    ok:        a usable value was extracted.
    value:     setwise: 0-based index; listwise: full 0-based permutation of range(n);
               pointwise: float score; groupwise: list of n floats. None when not ok.
    format_ok: exactly one <think>…</think> followed by exactly one <answer>…</answer>, whitespace aside.
    repaired:  the value needed repair (duplicates/out-of-range dropped, missing appended...).
    error:     why the parse failed (None when ok).
    reasoning: text inside <think> (or "" when absent), kept for traces.
    answer:    raw text the value was read from.
    """

    ok: bool
    value: Any = None
    format_ok: bool = False
    repaired: bool = False
    error: str | None = None
    reasoning: str = ""
    answer: str = ""

    def __init__(
        self,
        ok: bool,
        value: Any = None,
        format_ok: bool = False,
        repaired: bool = False,
        error: str | None = None,
        reasoning: str = "",
        answer: str = "",
    ):
        # Same signature as the generated one, but filling the instance dict in one call: a frozen dataclass's
        # own __init__ goes through object.__setattr__ once per field, which is ~1 µs per parse on the reward
        # hot path. Instances stay immutable (assignment raises FrozenInstanceError); eq/hash/repr are generated.
        self.__dict__.update(
            ok=ok,
            value=value,
            format_ok=format_ok,
            repaired=repaired,
            error=error,
            reasoning=reasoning,
            answer=answer,
        )


class Paradigm(Protocol):
    name: str
    template_name: str
    template_version: str

    def messages(self, query: str, passages: Sequence[str]) -> list[dict[str, str]]: ...

    def parse(self, completion: str, num_passages: int) -> Parsed: ...
