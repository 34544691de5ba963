"""Score and grade scales for the calibration rewards (pointwise accuracy, pointwise_listwise, distributional).

Both sides are mapped to [0, 1]: a score by the paradigm's ``score_max`` (10 for 0–10 scores, 1 for true/false),
a grade by ``grade_max`` (3 for TREC DL, 1 for binary qrels such as MS MARCO training data or BRIGHT).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from rankrl.core.errors import RankrlError


def check_scale(name: str, value: Any, reward: str) -> float | None:
    """A positive number or None (None: decided later, see :func:`resolve_grade_max`)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not value > 0:
        raise RankrlError(f"reward {reward!r}: parameter {name} must be a positive number, got {value!r}")
    return float(value)


def paradigm_score_max(paradigm: Any, score_max: float | None, reward: str) -> float:
    """``score_max`` when given, else the paradigm's own (``paradigm.score_max``)."""
    if score_max is not None:
        return score_max
    own = getattr(paradigm, "score_max", None)
    if own is None:
        raise RankrlError(f"reward {reward!r}: the {paradigm.name} paradigm has no score_max; pass score_max")
    return float(own)


def resolve_grade_max(grade_max: float | None, grades: Iterable[Iterable[float]], reward: str) -> float:
    """``grade_max`` when configured, else the largest grade among ``grades`` (at least 1).

    The fallback depends on the batch: a batch without a top-graded passage shrinks the scale. Configure
    ``grade_max`` (``build_rewards(..., grade_max=...)`` passes the training data's maximum grade) to avoid it.
    A grade above a configured ``grade_max`` is a data error.
    """
    top = max((max(g) for g in grades), default=0)
    if grade_max is None:
        return float(max(1, top))
    if top > grade_max:
        raise RankrlError(
            f"reward {reward!r}: column 'relevance' holds grade {top}, above grade_max={grade_max:g}; "
            f"set grade_max to the data's largest grade"
        )
    return grade_max


def unit(values: np.ndarray, top: float) -> np.ndarray:
    """``values / top`` clipped to [0, 1] (negative grades count as 0, like trec_eval)."""
    return np.clip(np.asarray(values, dtype=np.float64) / top, 0.0, 1.0)
