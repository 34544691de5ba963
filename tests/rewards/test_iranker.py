"""iranker_elimination against IRanker's published rule (ulab-uiuc/IRanker@f32eb9e:
verl/utils/reward_score/exclusion_reward.py:compute_score = exclusion + format_reward + tag_count_reward).

Three passages, ``passage 2`` the relevant one (IRanker's gt: eliminating it earns 0). The elimination template
pre-fills ``<think>``, so completions start inside the think block and the reward scores ``<think>`` + completion.
Each expected value is worked out by hand as exclusion + format + tag:
  format 0 if the text matches one of the four ``^<think>(\\n|\\s).*?(\\n|\\s)</think>\\n<answer>(\\n|\\s).*?(\\n|\\s)
  </answer>$`` layouts from its start, else -1; tag: -0.25 per pattern not found exactly once.
"""

from __future__ import annotations

import pytest

from rankrl.prompts import get_paradigm
from rankrl.rewards import get_reward
from rankrl.rewards.iranker import extract_answer, format_term, tag_term

GRADES = [0, 1, 0]


def canonical(answer: str) -> str:
    return f"\nreason\n</think>\n<answer>\n{answer}\n</answer>"


CASES = [
    (canonical("passage 1"), 1.0),  # 1 + 0 + 0
    (canonical("passage 3"), 1.0),
    (canonical("passage 2"), 0.0),  # eliminated the relevant passage
    (canonical("passage 4"), -0.5),  # not a candidate
    (canonical("Passage 1"), -0.5),  # exact match only
    (canonical("[1]"), -0.5),
    (canonical("passage 1."), -0.5),
    (canonical(""), -0.5),  # strict match gives "" (not None): not a candidate
    (canonical("passage 1\npassage 2"), 1.0),  # first line counts
    ("\nreason\n</think>\n", -2.5),  # no answer: -1, format -1, two answer tags missing -0.5
    ("reason</think><answer>passage 1</answer>", -1.0),  # 1 - 1 (format) - 1 (all four tag counts wrong)
    (" reason </think>\n<answer> passage 1 </answer>", 1.0),  # the \s variants
    (" reason </think>\n<answer>\npassage 1\n</answer>", 1.0),
    # two answer blocks: the last counts; format still matches ($ before a newline); two answer tags each: -0.5
    ("\nr\n</think>\n<answer>\npassage 2\n</answer>\n<answer>\npassage 3\n</answer>", 0.5),
    (canonical("passage 1") + " thanks", 0.0),  # trailing text breaks the format anchor: 1 - 1
    ("\nr\n</think>\n\n<answer>\npassage 1\n</answer>", 0.0),  # blank line: format -1, answer open "\n<answer>\n" ok: 1 - 1
    ("\nr\n</think>\n<answer>\npassage 1\n</answer>\n", 1.0),  # $ matches before the final newline
    ("\nr\n</think>\n<answer>passage 1</answer>", -0.5),  # answer tags need whitespace: format -1, tags -0.5
    ("\nr\n<think>\nagain\n</think>\n<answer>\npassage 1\n</answer>", 0.75),  # a second <think>\n: tag -0.25
    ("", -3.0),  # "<think>" alone: no answer -1, format -1, all four tag counts wrong -1
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_published_rule_on_literal_completions(text, expected):
    reward = get_reward("iranker_elimination", "elimination")
    assert reward([text], relevance=[GRADES]) == [pytest.approx(expected)]


def test_batch_and_name():
    reward = get_reward("iranker_elimination", "elimination")
    assert reward.__name__ == "iranker_elimination"
    texts = [t for t, _ in CASES]
    assert reward(texts, relevance=[GRADES] * len(texts)) == [pytest.approx(e) for _, e in CASES]


def test_ground_truth_on_graded_and_tied_groups():
    reward = get_reward("iranker_elimination", "elimination")
    strict = get_reward("iranker_elimination", "elimination", lowest_only=True)
    texts = [canonical(f"passage {i}") for i in (1, 2, 3)]
    # top grade is the ground truth; a middle grade may be eliminated under IRanker's rule, not under lowest_only
    assert reward(texts, relevance=[[2, 1, 0]] * 3) == [0.0, 1.0, 1.0]
    assert strict(texts, relevance=[[2, 1, 0]] * 3) == [0.0, 0.0, 1.0]
    assert reward(texts, relevance=[[1, 0, 1]] * 3) == [0.0, 1.0, 0.0]  # tied top grades both stay
    assert reward(texts, relevance=[[0, 0, 0]] * 3) == [1.0, 1.0, 1.0]  # nothing relevant: nothing is wrong


def test_scored_as_the_published_trainer_did():
    # verl decoded prompt + response: the format term is always -1, the prompt's "<think> " and " </answer>" count
    # as tags, and its "<answer> </answer>" is an answer match.
    reward = get_reward("iranker_elimination", "elimination", with_published_prompt=True)
    got = reward(["\nr\n</think>\n<answer>\npassage 1\n</answer>", "\nr\n</think>\n"], relevance=[GRADES] * 2)
    assert got == [pytest.approx(1 - 1 - 0.5), pytest.approx(-0.5 - 1 - 0.5)]


def test_terms_and_extraction():
    assert format_term("<think>\na\n</think>\n<answer>\nb\n</answer>") == 0.0
    assert format_term("x<think>\na\n</think>\n<answer>\nb\n</answer>") == -1.0
    assert tag_term("nothing") == -1.0
    assert extract_answer("<answer> a </answer> <answer> b </answer>") == "b"
    assert extract_answer("<answer>\n a \n</answer>") == " a "  # the strict match is not stripped
    assert extract_answer("no answer") is None


def test_applies_to_elimination_only_and_labels_follow_the_template():
    with pytest.raises(Exception, match="does not apply to the setwise paradigm"):
        get_reward("iranker_elimination", "setwise")
    paradigm = get_paradigm("elimination")
    assert paradigm.labels(3) == ["passage 1", "passage 2", "passage 3"]
