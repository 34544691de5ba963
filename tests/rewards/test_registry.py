"""Registry, recipe building, and range properties of every reward on arbitrary completions."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankrl import prompts
from rankrl.core.errors import ConfigError, RankrlError
from rankrl.rewards import REWARDS, build_rewards, get_reward, reward_params

NAMES = {
    "format",
    "setwise_choice",
    "listwise_ndcg",
    "listwise_delta_ndcg",
    "recall",
    "rbo",
    "pointwise_accuracy",
    "pointwise_listwise",
    "groupwise_ndcg",
    "distributional",
    # published rules (rewards/rank_r1.py, reasonrank.py, iranker.py, rearank.py)
    "rank_r1_choice",
    "reasonrank_multiview",
    "iranker_elimination",
    "rearank_delta_ndcg",
}


def test_registry_names_and_params():
    assert set(REWARDS) == NAMES
    assert reward_params("listwise_ndcg") == ("k",)
    assert reward_params("recall") == ("k", "rel_level")
    assert reward_params("pointwise_accuracy") == ("score_max", "grade_max")
    assert reward_params("format") == ("mode",)
    assert reward_params("rank_r1_choice") == ()
    assert reward_params("reasonrank_multiview") == ("rel_level",)
    assert reward_params("iranker_elimination") == ("with_published_prompt", "lowest_only")
    assert reward_params("rearank_delta_ndcg") == ("k",)
    with pytest.raises(RankrlError, match="unknown reward 'ndcg'; valid choices: distributional, format"):
        get_reward("ndcg")
    with pytest.raises(ConfigError, match="reward 'rbo' has no parameter k; its parameters: p"):
        get_reward("rbo", "listwise", k=3)


def test_build_rewards_from_a_recipe():
    specs = [
        {"name": "listwise_ndcg", "weight": 1.0, "k": 10},
        {"name": "format", "weight": 0.2, "mode": "partial"},
        {"name": "recall", "k": 5},
    ]
    funcs, weights = build_rewards(specs, "listwise", "minus_one")
    assert [f.__name__ for f in funcs] == ["listwise_ndcg", "format", "recall"]
    assert weights == [1.0, 0.2, 1.0]
    assert funcs[0].k == 10 and funcs[2].k == 5 and funcs[1].mode == "partial"
    assert all(f.format_gate == "minus_one" for f in funcs)
    assert len({id(f.parser) for f in funcs}) == 1  # one shared parse cache
    text = "<think>x</think><answer>[2] > [1]</answer>"
    assert [f([text, "?"], relevance=[[0, 1], [0, 1]]) for f in funcs] == [
        [1.0, -1.0],
        [1.0, 0.0],
        [1.0, -1.0],
    ]
    clones = pickle.loads(pickle.dumps(funcs))
    assert [f([text], relevance=[[0, 1]]) for f in clones] == [[1.0], [1.0], [1.0]]


def test_build_rewards_passes_grade_max_unless_the_spec_sets_it():
    funcs, _ = build_rewards(
        [{"name": "pointwise_accuracy"}, {"name": "pointwise_listwise", "grade_max": 1}, {"name": "format"}],
        prompts.get_paradigm("pointwise"),
        "zero",
        grade_max=3,
    )
    assert funcs[0].grade_max == 3.0 and funcs[1].grade_max == 1.0


def test_same_reward_twice_gets_distinct_names():
    funcs, _ = build_rewards([{"name": "recall", "k": 10}, {"name": "recall", "k": 20}], "listwise", "zero")
    assert [f.__name__ for f in funcs] == ["recall_k10", "recall_k20"]
    with pytest.raises(ConfigError, match="recall_k10 listed more than once"):
        build_rewards([{"name": "recall", "k": 10}, {"name": "recall", "k": 10}], "listwise", "zero")


@pytest.mark.parametrize(
    "specs,message",
    [
        ([], "non-empty list"),
        ("listwise_ndcg", "non-empty list"),
        ([{"weight": 1.0}], r"rewards\[0\]: each reward must be a mapping with a 'name'"),
        ([{"name": "format"}, {"name": "ndcgg"}], r"rewards\[1\]: unknown reward 'ndcgg'"),
        ([{"name": "listwise_ndcg", "k": 0}], r"rewards\[0\]: reward 'listwise_ndcg': parameter k"),
        ([{"name": "listwise_ndcg", "kk": 3}], r"rewards\[0\]: reward 'listwise_ndcg' has no parameter kk"),
        ([{"name": "format", "weight": "high"}], r"rewards\[0\]: weight must be a finite number"),
        ([{"name": "format", "weight": math.inf}], r"rewards\[0\]: weight must be a finite number"),
        (
            [{"name": "setwise_choice"}],
            r"rewards\[0\]: reward 'setwise_choice' does not apply to the listwise",
        ),
    ],
)
def test_build_rewards_errors(specs, message):
    with pytest.raises(ConfigError, match=message):
        build_rewards(specs, "listwise", "zero")


def test_build_rewards_rejects_unknown_gate():
    with pytest.raises(RankrlError, match="unknown format_gate"):
        build_rewards([{"name": "format"}], "listwise", "harsh")


# -- ranges on arbitrary completions ----------------------------------------------------------------------------

RANGES = {  # (paradigm, low, high) for a usable completion; the gate adds 0 or -1
    "format": ("listwise", 0.0, 1.0),
    "setwise_choice": ("setwise", 0.0, 1.0),
    "listwise_ndcg": ("listwise", 0.0, 1.0),
    "listwise_delta_ndcg": ("listwise", -math.inf, 1.0),
    "recall": ("listwise", 0.0, 1.0),
    "rbo": ("listwise", 0.0, 1.0),
    "pointwise_accuracy": ("pointwise", 0.0, 1.0),
    "pointwise_listwise": ("pointwise", -1.0, 1.0),
    "groupwise_ndcg": ("groupwise", 0.0, 1.0),
    "distributional": ("groupwise", 0.0, 1.0),
    # published rules: their own failure values, whatever the gate
    "rank_r1_choice": ("setwise", 0.0, 1.0),
    "reasonrank_multiview": ("listwise", -1.0, 1.3),
    "iranker_elimination": ("elimination", -3.0, 1.0),
    "rearank_delta_ndcg": ("listwise", -math.inf, 1.0),
}
FRAGMENTS = st.sampled_from(
    [
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "[1]",
        "[2]",
        "[3]",
        "[9]",
        " > ",
        "7",
        "10",
        "true",
        "{",
        "}",
        '"[1]": 3',
        '"[2]": 9,',
        ", ",
        "```",
        "\n",
        "maybe",
    ]
)
TEXTS = st.one_of(st.text(max_size=80), st.lists(FRAGMENTS, max_size=14).map("".join))


@st.composite
def batches(draw, paradigm_name: str):
    paradigm = prompts.get_paradigm(paradigm_name)
    size = draw(st.integers(1, 6))
    n = 1 if paradigm_name == "pointwise" else 3
    completions, relevance, docids, qids = [], [], [], []
    for i in range(size):
        if draw(st.booleans()):
            if paradigm_name in ("setwise", "elimination"):
                value = draw(st.integers(0, n - 1))
            elif paradigm_name == "listwise":
                value = draw(st.permutations(list(range(n))))
            elif paradigm_name == "pointwise":
                value = float(draw(st.integers(0, 10)))
            else:
                value = [float(draw(st.integers(0, 10))) for _ in range(n)]
            completions.append(
                paradigm.render_answer(value, draw(st.text(max_size=20).filter(lambda t: "<" not in t)))
            )
        else:
            completions.append(draw(TEXTS))
        relevance.append(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
        doc = draw(st.integers(0, 2))
        docids.append([f"d{doc}"] if n == 1 else [f"d{j}" for j in range(n)])
        qids.append("q")
    if paradigm_name == "pointwise":  # one grade per passage
        grade_of = {}
        relevance = [[grade_of.setdefault(d[0], r[0])] for d, r in zip(docids, relevance)]
    return completions, {"relevance": relevance, "docids": docids, "qid": qids}


@pytest.mark.parametrize("name", sorted(NAMES))
@pytest.mark.parametrize("gate", ["none", "zero", "minus_one"])
def test_every_reward_returns_one_finite_value_in_range(name, gate):
    paradigm_name, low, high = RANGES[name]
    reward = get_reward(
        name, paradigm_name, gate, **({"grade_max": 3} if "grade_max" in reward_params(name) else {})
    )

    @settings(max_examples=40, deadline=None)
    @given(batches(paradigm_name))
    def check(batch):
        completions, columns = batch
        values = reward(completions, **columns, trainer_state=None, log_metric=lambda *a: None)
        assert len(values) == len(completions)
        for v in values:
            assert isinstance(v, float) and math.isfinite(v)
            assert low - 1e-12 <= v <= high + 1e-12 or (
                name != "format" and v == (-1.0 if gate == "minus_one" else 0.0)
            )

    check()
