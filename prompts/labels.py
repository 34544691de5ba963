"""Read passage labels (``[3]``) from answer text, linearly and without ``int()`` on unbounded digit runs."""

from __future__ import annotations

import re

# Each alternative consumes a disjoint run of text, so scanning is linear in the answer length.
_LABEL = re.compile(r"\[\s*(\d+)\s*\]")
_DIGITS = re.compile(r"\d+")
MAX_DIGITS = 9  # a longer number is out of range for any real group (and int() on 5,000 digits raises)


def to_id(digits: str) -> int:
    """1-based id from a digit string; -1 when it is too long to be any passage."""
    return int(digits) if len(digits) <= MAX_DIGITS else -1


def bracketed_ids(answer: str) -> list[int]:
    """Every ``[n]`` in order of appearance (1-based, -1 for absurdly long numbers)."""
    # findall + a length check inline: this is the hot path of every listwise reward (one call per completion).
    return [int(d) if len(d) <= MAX_DIGITS else -1 for d in _LABEL.findall(answer)]


def bare_ids(answer: str) -> list[int]:
    """Every bare integer in order of appearance."""
    return [to_id(m.group(0)) for m in _DIGITS.finditer(answer)]


def compact(text: str) -> str:
    """Text without any whitespace, to compare an answer with its canonical form."""
    return "".join(text.split())
