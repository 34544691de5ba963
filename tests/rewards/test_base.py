"""The shared reward wrapper: TRL's call, the format gate, None rows, output contract, parse cache, pickling."""

from __future__ import annotations

import math
import pickle

import pytest

from rankrl import prompts
from rankrl.core.errors import RankrlError
from rankrl.prompts.base import Parsed
from rankrl.rewards import FORMAT_GATES, CachedParser, failure_value, get_reward
from rankrl.rewards.base import Reward

GOOD = "<think>x</think><answer>[2] > [1] > [3]</answer>"


class ScriptedParadigm:
    """A stand-in paradigm whose parse returns a fixed value (to reach paths the real parsers never take)."""

    def __init__(self, name: str, value, format_ok: bool = True):
        self.name, self.value, self.format_ok = name, value, format_ok
        self.score_max = 10.0
        self.calls = 0
        from rankrl.prompts import get_paradigm

        real = get_paradigm(name)  # what rewards ask a paradigm besides parse (one passage? scores?)
        self.one_passage_per_prompt, self.gives_scores = real.one_passage_per_prompt, real.gives_scores

    def parse(self, completion: str, num_passages: int) -> Parsed:
        self.calls += 1
        return Parsed(ok=True, value=self.value, format_ok=self.format_ok)


def test_failure_values():
    assert FORMAT_GATES == ("none", "zero", "minus_one")
    assert [failure_value(g) for g in FORMAT_GATES] == [0.0, 0.0, -1.0]
    with pytest.raises(RankrlError, match="unknown format_gate 'strict'"):
        get_reward("listwise_ndcg", "listwise", "strict")


def test_trl_style_call_with_extra_kwargs():
    """TRL 1.16 passes prompts, completion_ids, trainer_state, log_extra, log_metric and every dataset column."""
    logged: dict[str, float] = {}
    extra: list = []
    reward = get_reward("listwise_ndcg", "listwise", k=10)
    got = reward(
        prompts=[[{"role": "user", "content": "q"}]] * 2,
        completions=[[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": "oops"}]],
        completion_ids=[[1, 2, 3], [4]],
        trainer_state=object(),
        log_extra=lambda column, values: extra.append((column, values)),
        log_metric=lambda name, value: logged.__setitem__(name, value),
        relevance=[[1, 3, 0], [1, 3, 0]],
        docids=[["a", "b", "c"], ["a", "b", "c"]],
        qid=["q1", "q1"],
        source=["msmarco", "msmarco"],  # an unrelated column is ignored
    )
    assert got == [1.0, 0.0]
    assert logged == {"listwise_ndcg/unusable": 0.5}


def test_trl_sees_the_metric_name_and_a_sync_callable():
    from trl.trainer.utils import get_callable_name, is_async_callable

    reward = get_reward("recall", "listwise", k=5)
    assert reward.__name__ == "recall"
    assert get_callable_name(reward) == "recall"
    assert not is_async_callable(reward)


def test_rows_without_labels_get_no_reward():
    reward = get_reward("listwise_ndcg", "listwise", "minus_one")
    assert reward([GOOD, GOOD, "junk"], relevance=[[1, 3, 0], None, None]) == [1.0, None, None]


def test_missing_or_misaligned_columns_name_the_column():
    reward = get_reward("listwise_ndcg", "listwise")
    with pytest.raises(RankrlError, match="needs the dataset column 'relevance'"):
        reward([GOOD], docids=[["a", "b", "c"]])
    with pytest.raises(RankrlError, match="column 'relevance' has 1 entries for 2 completions"):
        reward([GOOD, GOOD], relevance=[[1, 3, 0]])
    with pytest.raises(RankrlError, match="3 grades in column 'relevance' but 2 entries in column 'docids'"):
        reward([GOOD], relevance=[[1, 3, 0]], docids=[["a", "b"]])
    with pytest.raises(RankrlError, match="row 0 is empty"):
        reward([GOOD], relevance=[[]])
    with pytest.raises(RankrlError, match="non-numeric grade 'high'"):
        reward([GOOD], relevance=[[1, "high", 0]])
    with pytest.raises(RankrlError, match="must be a list of grades"):
        reward([GOOD], relevance=[{"a": 1}])


def test_parsed_length_mismatch_is_a_data_error():
    reward = get_reward("listwise_ndcg", ScriptedParadigm("listwise", [1, 0]))
    with pytest.raises(RankrlError, match="3 grades in column 'relevance' but the parsed answer covers 2"):
        reward(["anything"], relevance=[[1, 3, 0]])
    setwise = get_reward("setwise_choice", ScriptedParadigm("setwise", 5))
    with pytest.raises(RankrlError, match="parsed pick is passage index 5"):
        setwise(["anything"], relevance=[[1, 3, 0]])


@pytest.mark.parametrize("gate,fail", [("zero", 0.0), ("minus_one", -1.0)])
def test_non_finite_values_become_the_failure_value(gate, fail):
    reward = get_reward("distributional", ScriptedParadigm("groupwise", [math.nan, 1.0]), gate, grade_max=1)
    assert reward(["x"], relevance=[[1, 0]]) == [fail]


def test_format_gate_none_scores_unformatted_but_usable_answers():
    paradigm = ScriptedParadigm("listwise", [1, 0, 2], format_ok=False)
    assert get_reward("listwise_ndcg", paradigm, "none")(["x"], relevance=[[0, 1, 0]]) == [1.0]
    assert get_reward("listwise_ndcg", paradigm, "zero")(["x"], relevance=[[0, 1, 0]]) == [0.0]
    assert get_reward("listwise_ndcg", paradigm, "minus_one")(["x"], relevance=[[0, 1, 0]]) == [-1.0]


def test_shared_parse_cache_parses_each_completion_once():
    paradigm = ScriptedParadigm("listwise", [1, 0, 2])
    cache = CachedParser(paradigm)
    rewards = [get_reward(n, paradigm, parser=cache) for n in ("listwise_ndcg", "recall", "rbo", "format")]
    for reward in rewards:
        reward(["a", "b"], relevance=[[0, 1, 0], [0, 1, 0]])
    assert paradigm.calls == 2
    small = CachedParser(paradigm, max_entries=1)
    small.parse("a", 3), small.parse("b", 3), small.parse("a", 3)
    assert paradigm.calls == 5  # bounded: the cache was cleared when full


def test_a_cache_for_another_paradigm_is_not_used():
    other = CachedParser(ScriptedParadigm("listwise", [0, 1, 2]))
    reward = get_reward("listwise_ndcg", "listwise", parser=other)
    assert reward.parser is None
    assert reward([GOOD], relevance=[[1, 3, 0]]) == [1.0]


def test_rewards_pickle_and_behave_the_same(tmp_path):
    batch = [GOOD, "<think>x</think><answer>[3] > [1]</answer>", "junk"]
    cols = {"relevance": [[1, 3, 0]] * 3, "docids": [["a", "b", "c"]] * 3}
    for name in ("listwise_ndcg", "listwise_delta_ndcg", "recall", "rbo", "format"):
        reward = get_reward(name, "listwise", "minus_one")
        clone = pickle.loads(pickle.dumps(reward))
        assert isinstance(clone, Reward) and clone.__name__ == reward.__name__
        assert clone(batch, **cols) == reward(batch, **cols)


def test_cache_contents_are_not_pickled():
    cache = CachedParser(prompts.get_paradigm("listwise"))
    cache.parse(GOOD, 3)
    clone = pickle.loads(pickle.dumps(cache))
    assert clone._cache == {} and clone.max_entries == cache.max_entries


def test_paradigm_must_be_a_name_or_object():
    with pytest.raises(RankrlError, match="paradigm must be a name or a prompts paradigm"):
        get_reward("listwise_ndcg", 42)
    with pytest.raises(RankrlError, match="unknown paradigm"):
        get_reward("listwise_ndcg", "pairwise")
    with pytest.raises(RankrlError, match="does not apply to the listwise paradigm"):
        get_reward("setwise_choice", "listwise")
