"""rank_r1_choice against Rank-R1's published rule (ielab/llm-rankers@fb7fe9d:Rank-R1/train_grpo.py:
reward_func_setwise). Expected values worked out by hand from that rule: 1 only when
``<think>.*?</think>\\s*<answer>(.*?)</answer>`` (re.search, DOTALL) matches and the first match's answer, stripped,
is exactly the positive's ``[k]``."""

from __future__ import annotations

import pytest

from rankrl.prompts import get_paradigm
from rankrl.rewards import get_reward

POSITIVE_3 = [0, 0, 1, 0]  # one positive, shown third: Rank-R1's label is "[3]"

CASES = [
    ("<think>r</think><answer>[3]</answer>", 1.0),
    ("<think>r</think>\n<answer> [3] </answer>", 1.0),  # the answer is stripped
    ("<think>r</think><answer>\n[3]\n</answer>", 1.0),
    ("<think>r</think><answer>3</answer>", 0.0),  # setwise_choice: 1 (repaired bare id)
    ("<think>r</think><answer>[3].</answer>", 0.0),  # setwise_choice: 1
    ("<think>r</think><answer>Document [3]</answer>", 0.0),  # setwise_choice: 1
    ("<think>r</think><answer>[3]</answer> trailing text", 1.0),  # setwise_choice: 0 (format)
    ("Preamble <think>r</think><answer>[3]</answer>", 1.0),  # setwise_choice: 0 (format)
    ("<think>a</think><think>b</think><answer>[3]</answer>", 1.0),  # two think blocks; setwise_choice: 0
    ("<think>r</think><answer>[3]</answer><answer>[1]</answer>", 1.0),  # the first answer counts
    ("<think>r</think><answer>[1]</answer><answer>[3]</answer>", 0.0),
    ("<think>I say <answer>[1]</answer></think><answer>[3]</answer>", 1.0),  # lazy think ends at </think>
    ("<answer>[3]</answer>", 0.0),  # no think block
    ("<think>r</think>[3]", 0.0),  # no answer block
    ("<think>r</think> so <answer>[3]</answer>", 0.0),  # only whitespace may separate the blocks
    ("<think>r\n\nmore\n</think>\n\n<answer>[3]</answer>", 1.0),
    ("<think>r</think><answer>[2]</answer>", 0.0),
    ("<Think>r</Think><answer>[3]</answer>", 0.0),  # tags are case-sensitive
    ("<think>r</think><answer>[ 3 ]</answer>", 0.0),
    ("<think>r</think><answer>[03]</answer>", 0.0),
    ("<think></think><answer>[3]</answer>", 1.0),  # empty reasoning is fine
    ("<think>r</think><answer>[3]", 0.0),  # unclosed answer
    ("", 0.0),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_published_rule_on_literal_completions(text, expected):
    reward = get_reward("rank_r1_choice", "setwise")
    assert reward([text], relevance=[POSITIVE_3]) == [expected]


def test_batch_conversational_and_metric_name():
    reward = get_reward("rank_r1_choice", "setwise")
    assert reward.__name__ == "rank_r1_choice"
    completions = [[{"role": "assistant", "content": text}] for text, _ in CASES]
    assert reward(completions, relevance=[POSITIVE_3] * len(CASES)) == [e for _, e in CASES]


def test_differs_from_setwise_choice_on_the_issue_cases():
    ours = get_reward("setwise_choice", "setwise")
    published = get_reward("rank_r1_choice", "setwise")
    texts = [t for t, _ in CASES[3:9]]
    rows = [POSITIVE_3] * len(texts)
    assert published(texts, relevance=rows) == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert ours(texts, relevance=rows) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_grades_top_label_and_no_relevant():
    reward = get_reward("rank_r1_choice", "setwise")
    text = "<think>r</think><answer>[{}]</answer>"
    graded = [2, 0, 2, 1]
    assert reward([text.format(i) for i in (1, 3, 4)], relevance=[graded] * 3) == [1.0, 1.0, 0.0]
    assert reward([text.format(1)], relevance=[[0, 0, 0]]) == [0.0]
    assert reward([text.format(1)], relevance=[None]) == [None]


def test_prefilled_think_is_restored():
    reward = get_reward("rank_r1_choice", get_paradigm("setwise", think_prefilled=True))
    assert reward(["r</think><answer>[3]</answer>"], relevance=[POSITIVE_3]) == [1.0]
