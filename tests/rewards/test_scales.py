"""Score/grade scales used by the calibration rewards."""

from __future__ import annotations

import numpy as np
import pytest

from rankrl import prompts
from rankrl.core.errors import RankrlError
from rankrl.rewards.scales import check_scale, paradigm_score_max, resolve_grade_max, unit


def test_check_scale():
    assert check_scale("grade_max", None, "r") is None
    assert check_scale("grade_max", 3, "r") == 3.0
    for bad in (0, -1, True, "3", float("nan")):
        with pytest.raises(RankrlError, match="grade_max must be a positive number"):
            check_scale("grade_max", bad, "r")


def test_score_max_comes_from_the_paradigm_unless_given():
    assert paradigm_score_max(prompts.get_paradigm("pointwise"), None, "r") == 10.0
    assert (
        paradigm_score_max(prompts.get_paradigm("pointwise", template="pointwise-binary"), None, "r") == 1.0
    )
    assert paradigm_score_max(prompts.get_paradigm("groupwise"), 5.0, "r") == 5.0
    with pytest.raises(RankrlError, match="has no score_max"):
        paradigm_score_max(prompts.get_paradigm("listwise"), None, "r")


def test_resolve_grade_max():
    assert resolve_grade_max(None, [[0, 2], [1]], "r") == 2.0
    assert resolve_grade_max(None, [[0, 0]], "r") == 1.0  # never below 1
    assert resolve_grade_max(3.0, [[0, 2]], "r") == 3.0
    with pytest.raises(RankrlError, match="grade 3, above grade_max=2"):
        resolve_grade_max(2.0, [[3]], "r")


def test_unit_clips():
    assert unit(np.array([-1, 0, 5, 12]), 10).tolist() == [0.0, 0.0, 0.5, 1.0]
