"""Locate ``<think>…</think>`` and ``<answer>…</answer>`` in a completion, in linear time.

Shared by every paradigm so that ``format_ok`` means the same thing everywhere. Rules (also in docs/prompts.md):

* Tags are the exact lowercase strings ``<think>``, ``</think>``, ``<answer>``, ``</answer>``; anything else
  (``<Answer>``, ``< think>``) is plain text.
* ``format_ok``: the tags, in order of appearance, are exactly ``<think> </think> <answer> </answer>`` and
  only whitespace lies before ``<think>``, between ``</think>`` and ``<answer>``, and after ``</answer>``.
  With ``think_prefilled=True`` (chat templates such as Qwen3's that end the generation prompt with ``<think>``,
  so the completion starts inside the reasoning) the leading ``<think>`` may be absent: ``</think> <answer>
  </answer>`` is then also well formed, and any text before ``</think>`` is the reasoning.
  Nested or repeated tags, a missing tag, or any non-whitespace text outside the blocks make ``format_ok`` false.
* The answer block is the **last complete** one: the last ``<answer>`` that has a ``</answer>`` after it, up to
  the first ``</answer>`` that follows it (a model that revises itself is read by its final answer; nested
  ``<answer>`` tags resolve to the innermost block). It may sit anywhere, even inside the think block.
  When a complete answer block exists, only its text is read — ids mentioned while thinking never count.
* No complete answer block: by default there is no answer (``answer is None``; every paradigm then returns
  ``ok=False``). With ``answer_fallback=True`` the text after the last ``<answer>`` (an unclosed block, e.g. a
  generation cut at the length limit), else after the last ``</think>``, else the whole completion when it has no
  tags at all, is read instead; the paradigm then flags the value ``repaired``. Text inside an unclosed
  ``<think>`` is never read as an answer.
* ``reasoning`` is the text of the first think block (from ``<think>``, or the start of the completion when the
  opening tag is absent, up to the first ``</think>``); with ``<think>`` but no ``</think>`` it runs to the
  answer block or the end. Stripped of surrounding whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE = "<think>", "</think>", "<answer>", "</answer>"
# A literal alternation: the regex engine scans each position once, so a search is linear in the text length.
_TAG = re.compile(r"</?(?:think|answer)>")
# The same with a group: ``split`` returns text and tags alternately (text, tag, text, tag, ..., text).
_SPLIT = re.compile(r"(</?(?:think|answer)>)")
_STRICT = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
_PREFILLED = (THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
_OUTSIDE = "text outside the <think> and <answer> blocks"
_MISSING_OPEN = "missing " + THINK_OPEN
_ONE_EACH = (1, 1, 1, 1)
_NO_OPEN = (0, 1, 1, 1)


@dataclass(frozen=True)
class TagScan:
    """Where the tags are and what they enclose.

    format_ok:  the strict structure described in the module docstring holds.
    reasoning:  stripped text of the first think block ("" when there is none).
    answer:     stripped text the value must be read from, or None when there is none.
    from_fallback: the answer came from the ``answer_fallback`` rule, not from a complete answer block.
    counts:     how many times each tag occurs (for partial-credit format rewards).
    problem:    why ``format_ok`` is false (None when it is true).
    """

    format_ok: bool
    reasoning: str
    answer: str | None
    from_fallback: bool
    counts: dict[str, int]
    problem: str | None


def _structure_problem(text: str, counts: dict[str, int], think_prefilled: bool) -> str | None:
    missing = [t for t in _STRICT if counts[t] == 0 and not (think_prefilled and t == THINK_OPEN)]
    if missing:
        return "missing " + ", ".join(missing)
    repeated = [t for t in _STRICT if counts[t] > 1]
    if repeated:
        return "repeated " + ", ".join(repeated)
    # At most four tags remain: enumerate them in order.
    tags = [(m.group(0), m.start(), m.end()) for m in _TAG.finditer(text)]
    names = tuple(t for t, _, _ in tags)
    if names == _STRICT:
        outside = (text[: tags[0][1]], text[tags[1][2] : tags[2][1]], text[tags[3][2] :])
    elif think_prefilled and names == _PREFILLED:
        outside = (text[tags[0][2] : tags[1][1]], text[tags[2][2] :])  # text before </think> is reasoning
    else:
        return "tags out of order: " + " ".join(names)
    if any(part.strip() for part in outside):
        return "text outside the <think> and <answer> blocks"
    return None


def locate(
    text: str, think_prefilled: bool = False, answer_fallback: bool = False
) -> tuple[bool, str, str | None, bool, str | None, tuple[int, int, int, int]]:
    """``scan`` without the ``TagScan`` record (the parse hot path): ``(format_ok, reasoning, answer,
    from_fallback, problem, counts)``, counts in the order ``<think> </think> <answer> </answer>``.

    One regex ``split`` (stopped after the fifth tag) finds the tags; when they are exactly
    ``<think> </think> <answer> </answer>`` (or ``</think> <answer> </answer>``) the pieces between them are the
    outside text, reasoning and answer, and the rules above reduce to the few lines below. Any other shape goes
    through :func:`_locate_general`, which applies the rules in full. ``text`` must be a ``str``.
    """
    parts = _SPLIT.split(text, 5)  # text, tag, text, tag, ...: 9 pieces = exactly four tags
    size = len(parts)
    if size == 9 and (parts[1], parts[3], parts[5], parts[7]) == _STRICT:
        problem = _OUTSIDE if parts[0].strip() or parts[4].strip() or parts[8].strip() else None
        return problem is None, parts[2].strip(), parts[6].strip(), False, problem, _ONE_EACH
    if size == 7 and (parts[1], parts[3], parts[5]) == _PREFILLED:
        # No <think>: the reasoning runs from the start; well formed only with a pre-filled think.
        if think_prefilled:
            problem = _OUTSIDE if parts[2].strip() or parts[6].strip() else None
        else:
            problem = _MISSING_OPEN
        return problem is None, parts[0].strip(), parts[4].strip(), False, problem, _NO_OPEN
    return _locate_general(text, think_prefilled, answer_fallback)


def _locate_general(
    text: str, think_prefilled: bool, answer_fallback: bool
) -> tuple[bool, str, str | None, bool, str | None, tuple[int, int, int, int]]:
    """The rules of the module docstring for any tag layout. Only C-level ``str`` searches run over the whole text
    (``count``/``find``/``rfind``), so a 300 KB completion full of tags scans in milliseconds."""
    counts = {t: text.count(t) for t in _STRICT}
    problem = _structure_problem(text, counts, think_prefilled)

    # Reasoning: first think block; the opening tag may be missing (pre-filled by the chat template).
    first_close = text.find(THINK_CLOSE)
    first_open = text.find(THINK_OPEN)
    reasoning = ""
    if first_close >= 0:
        start = first_open + len(THINK_OPEN) if 0 <= first_open < first_close else 0
        reasoning = text[start:first_close]
    elif first_open >= 0:
        body_start = first_open + len(THINK_OPEN)
        end = text.find(ANSWER_OPEN, body_start)
        reasoning = text[body_start : end if end >= 0 else len(text)]

    # Answer: the last <answer> that has a </answer> after it, up to the first </answer> that follows it.
    answer: str | None = None
    from_fallback = False
    last_close = text.rfind(ANSWER_CLOSE)
    if last_close >= 0:
        last_open = text.rfind(ANSWER_OPEN, 0, last_close)
        if last_open >= 0:
            body_start = last_open + len(ANSWER_OPEN)
            answer = text[body_start : text.find(ANSWER_CLOSE, body_start)]
    if answer is None and answer_fallback:
        last_open = text.rfind(ANSWER_OPEN)
        last_think_close = text.rfind(THINK_CLOSE)
        if last_open >= 0 and last_open > last_close:
            answer = text[last_open + len(ANSWER_OPEN) :]
        elif last_think_close >= 0:
            answer = text[last_think_close + len(THINK_CLOSE) :]
        elif not any(counts.values()):
            answer = text
        if answer is not None:
            # Only text up to the next tag belongs to the answer (never a later think block).
            cut = _TAG.search(answer)
            answer = answer[: cut.start()] if cut else answer
            from_fallback = True
    return (
        problem is None,
        reasoning.strip(),
        None if answer is None else answer.strip(),
        from_fallback,
        problem,
        tuple(counts.values()),  # type: ignore[return-value]
    )


def scan(text: str, *, think_prefilled: bool = False, answer_fallback: bool = False) -> TagScan:
    """Decide structure, reasoning and answer text, in linear time (see :func:`locate`)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    format_ok, reasoning, answer, from_fallback, problem, counts = locate(
        text, think_prefilled, answer_fallback
    )
    return TagScan(
        format_ok=format_ok,
        reasoning=reasoning,
        answer=answer,
        from_fallback=from_fallback,
        counts=dict(zip(_STRICT, counts)),
        problem=problem,
    )


def contains_tag(text: str) -> bool:
    """True when ``text`` holds one of the four structural tags (reasoning given to ``render_answer`` must not)."""
    return _TAG.search(text) is not None
