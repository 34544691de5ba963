"""Read what TRL hands a reward function: completion texts and the dataset columns aligned with them.

A missing or malformed column is a data bug (the rows were built wrong), so it raises a ``RankrlError`` naming
the column and the row; a malformed *completion* never raises (it is the model's fault and gets a reward).
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Any

import numpy as np

from rankrl.core.errors import RankrlError

_SEQUENCE = (list, tuple, np.ndarray)
_INT_ONLY = frozenset({int})
_LIST_ONLY = frozenset({list})


def completion_text(completion: Any) -> str:
    """The text of one completion: a plain string, or the last message of a conversational completion.

    Conversational completions are ``[{"role": "assistant", "content": ...}]``; content may also be a list of
    ``{"type": "text", "text": ...}`` parts. Anything else becomes its ``str`` (and then simply fails to parse).
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, _SEQUENCE) and len(completion) > 0:
        message = completion[-1]
        content = message.get("content", "") if isinstance(message, dict) else message
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            parts = [
                p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            ]
            return "".join(parts)
        return "" if content is None else str(content)
    return "" if completion is None or isinstance(completion, _SEQUENCE) else str(completion)


def column(kwargs: dict[str, Any], name: str, num_rows: int, reward: str) -> list[Any]:
    """The column ``name`` as a list of ``num_rows`` entries; a RankrlError when it is absent or misaligned."""
    if name not in kwargs or kwargs[name] is None:
        present = sorted(k for k in kwargs if k not in {"trainer_state", "log_extra", "log_metric"})
        raise RankrlError(
            f"reward {reward!r} needs the dataset column {name!r}, which is missing "
            f"(columns passed: {', '.join(present) or 'none'}); build rows with rankrl's data.rows"
        )
    values = kwargs[name]
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise RankrlError(f"reward {reward!r}: column {name!r} must be a list with one entry per completion")
    if len(values) != num_rows:
        raise RankrlError(
            f"reward {reward!r}: column {name!r} has {len(values)} entries for {num_rows} completions"
        )
    return list(values)


def row_grades(value: Any, row: int, reward: str, single: bool) -> list | None:
    """One row's ``relevance``: a non-empty list of grades, or None (no reward for that row).

    ``single``: the paradigm shows one passage per prompt (pointwise): a bare grade or a list of length 1.
    """
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if single and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise RankrlError(
            f"reward {reward!r}: column 'relevance' row {row} must be a list of grades, got {type(value).__name__}"
        )
    if len(value) == 0:
        raise RankrlError(
            f"reward {reward!r}: column 'relevance' row {row} is empty (a group needs passages)"
        )
    if single and len(value) != 1:
        raise RankrlError(
            f"reward {reward!r}: column 'relevance' row {row} has {len(value)} grades, but a pointwise row shows "
            f"exactly one passage"
        )
    if not _INT_ONLY.issuperset(map(type, value)):  # fast path: plain ints (what datasets gives back)
        for g in value:
            if (
                isinstance(g, bool)
                or not isinstance(g, (int, float, np.integer, np.floating))
                or math.isnan(g)
            ):
                raise RankrlError(
                    f"reward {reward!r}: column 'relevance' row {row} holds a non-numeric grade {g!r}"
                )
    return value if isinstance(value, list) else list(value)


def plain_int_rows(values: list[Any]) -> bool:
    """True when every entry is a non-empty ``list`` of plain ``int`` grades: the column needs no per-row check.

    Three passes that run in C (row types, row lengths, grade types) instead of one Python-level check per row.
    """
    return (
        len(values) > 0
        and _LIST_ONLY.issuperset(map(type, values))
        and min(map(len, values)) > 0
        and _INT_ONLY.issuperset(map(type, chain.from_iterable(values)))
    )


def check_docids(docids: Any, n: int, row: int, reward: str) -> None:
    """``docids`` of one row must have as many entries as ``relevance`` (a str counts as one docid)."""
    if docids is None:
        return
    size = 1 if isinstance(docids, str) else len(docids) if isinstance(docids, _SEQUENCE) else -1
    if size != n:
        raise RankrlError(
            f"reward {reward!r}: row {row} has {n} grades in column 'relevance' but "
            f"{size if size >= 0 else type(docids).__name__} entries in column 'docids'; they must be aligned"
        )


def single_docid(docids: Any, row: int, reward: str) -> str:
    """The one docid of a pointwise row (a str or a list of one)."""
    if isinstance(docids, str):
        return docids
    if isinstance(docids, _SEQUENCE) and len(docids) == 1:
        return str(docids[0])
    raise RankrlError(
        f"reward {reward!r}: column 'docids' row {row} must hold exactly one docid, got {docids!r}"
    )


def num_passages(kwargs: dict[str, Any], row: int) -> int | None:
    """How many passages row ``row`` showed, from ``relevance`` or ``docids`` (None when neither tells)."""
    for name in ("relevance", "docids"):
        values = kwargs.get(name)
        if values is None or row >= len(values):
            continue
        value = values[row]
        if isinstance(value, str):
            return 1
        if isinstance(value, _SEQUENCE):
            return len(value)
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return 1
    return None
