"""The elimination paradigm (IRanker): IRanker's prompt, ``passage i`` labels, reading the eliminated passage."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from rankrl.core.errors import RankrlError
from rankrl.prompts import ALL_PARADIGMS, PARADIGMS, get_paradigm, paradigm_from_metadata


def test_prompt_is_irankers_with_its_prefill():
    p = get_paradigm("elimination")
    system, user, prefill = p.messages("what is a heron", ["A bird [1].", "A <answer> tag"])
    assert system == {"role": "system", "content": "You are a helpful assistant. You first thinks about the "
                      "reasoning process in the mind and then provides the user with the answer."}
    assert user["role"] == "user"
    assert user["content"].startswith(" Here is a query: what is a heron.\nAnd here are the candidate passages:\n"
                                      "passage 1: A bird (1).\npassage 2: A (answer) tag\n\nPlease think step by step")
    assert user["content"].endswith("Show your work in <think> </think> tags. And return the final answer in "
                                    "<answer> </answer> tags.")
    assert prefill == {"role": "assistant", "content": "Let me solve this step by step.\n<think>"}
    assert p.think_prefilled
    assert p.template.source.repository == "ulab-uiuc/IRanker"


@pytest.mark.parametrize(("answer", "value", "repaired"), [
    ("passage 2", 1, False),
    ("\n passage 3 \n", 2, False),
    ("Passage 2", 1, True),
    ("passage 2.", 1, True),
    ("[2]", 1, True),
    ("2", 1, True),
    ("passage [1]", 0, True),
    ("passage 1\nbecause it is off topic", 0, True),
])
def test_reads_the_first_line(answer, value, repaired):
    got = get_paradigm("elimination").parse(f"r\n</think>\n<answer>{answer}</answer>", 3)
    assert (got.ok, got.value, got.repaired, got.format_ok) == (True, value, repaired, True)


@pytest.mark.parametrize(("answer", "error"), [
    ("passage 4", "outside 1..3"),
    ("passage 0", "outside 1..3"),
    ("passage 1 or passage 2", "not a passage label"),
    ("", "answer is empty"),
    ("passage " + "9" * 40, "<huge>"),
])
def test_unusable_answers_are_failed_parses(answer, error):
    got = get_paradigm("elimination").parse(f"r</think><answer>{answer}</answer>", 3)
    assert not got.ok and error in got.error


def test_gold_random_render_round_trip_and_metadata(tmp_path):
    p = get_paradigm("elimination")
    assert p.gold_value([2, 0, 1, 0]) == 3  # lowest grade, last shown among ties
    assert p.gold_value([1, 1]) == 1
    assert 0 <= p.random_value(5, np.random.default_rng(0)) < 5
    text = p.render_answer(1, "reason")
    assert text == "\nreason\n</think>\n<answer>\npassage 2\n</answer>"
    assert p.parse(text, 2).value == 1 and not p.parse(text, 2).repaired
    again = paradigm_from_metadata(pickle.loads(pickle.dumps(p.metadata())))
    assert again.messages("q", ["a", "b"]) == p.messages("q", ["a", "b"])
    assert p.default_rewards() == [{"name": "iranker_elimination", "weight": 1.0}]
    assert p.default_strategy == "elimination"
    assert "elimination" in ALL_PARADIGMS and "elimination" not in PARADIGMS
    with pytest.raises(RankrlError, match="at least two passages"):
        p.messages("q", ["only one"])
    with pytest.raises(RankrlError, match="0-based passage index"):
        p.render_answer(-1)
