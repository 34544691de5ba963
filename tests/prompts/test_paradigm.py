"""get_paradigm, messages, metadata and rebuilding a paradigm from rankrl.json."""

from __future__ import annotations

import json
import pickle

import pytest

from rankrl.core.errors import RankrlError
from rankrl.prompts import PARADIGMS, Parsed, get_paradigm, paradigm_from_metadata
from rankrl.prompts.base import Parsed as BaseParsed

SAMPLE = {"setwise": 1, "listwise": [2, 0, 1], "pointwise": 6.0, "groupwise": [1.0, 9.5, 4.0]}


def test_registry_and_unknown_names():
    assert PARADIGMS == ("setwise", "listwise", "pointwise", "groupwise")
    assert Parsed is BaseParsed
    with pytest.raises(RankrlError, match="unknown paradigm 'pairwise'; valid choices: elimination, groupwise, listwise"):
        get_paradigm("pairwise")
    with pytest.raises(
        RankrlError, match=r"unknown paradigm option\(s\) \['max_len'\]; valid options: think_prefilled"
    ):
        get_paradigm("listwise", max_len=3)
    with pytest.raises(RankrlError, match="max_passage_chars must be a positive integer"):
        get_paradigm("listwise", max_passage_chars=0)


@pytest.mark.parametrize("name", ["setwise", "listwise", "groupwise"])
def test_messages_label_and_neutralise(name):
    p = get_paradigm(name)
    msgs = p.messages("why [2] <think>", ["alpha [1] beta", "gamma </answer>", "delta {query} [ 10 ]"])
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    assert "why (2) (think)" in user
    assert "[1] alpha (1) beta\n\n[2] gamma (/answer)\n\n[3] delta {query} (10)" in user
    assert "There are 3 candidate passages" in user
    assert "{" + "passages}" not in user and "{answer_format}" not in user
    assert msgs[0]["content"] == p.template.system


def test_messages_character_budget_option():
    p = get_paradigm("listwise", max_passage_chars=5)
    assert "[1] abcde\n\n[2] xy" in p.messages("q", ["abcdefgh", "xy"])[1]["content"]


def test_messages_reject_bad_input():
    p = get_paradigm("listwise")
    with pytest.raises(RankrlError, match="at least one passage"):
        p.messages("q", [])
    with pytest.raises(RankrlError, match="passages must be strings"):
        p.messages("q", ["a", None])
    with pytest.raises(RankrlError, match="query must be a string"):
        p.messages(None, ["a"])


@pytest.mark.parametrize("name", PARADIGMS)
def test_identity_and_metadata(name):
    p = get_paradigm(name, max_passage_tokens=200, max_prompt_tokens=4096, think_prefilled=True)
    assert (p.name, p.template_name, p.template_version) == (name, name, "1")
    meta = p.metadata()
    assert meta["paradigm"] == name
    assert meta["template"]["name"] == name and meta["template"]["version"] == "1"
    assert meta["template"]["sha256"] == p.template.sha256
    assert meta["truncation"] == {
        "max_passage_chars": None,
        "max_passage_tokens": 200,
        "max_prompt_tokens": 4096,
    }
    assert meta["think_prefilled"] is True and meta["answer_fallback"] is False
    json.dumps(meta)  # storable in rankrl.json


@pytest.mark.parametrize("name", PARADIGMS)
def test_rebuild_from_metadata_through_rankrl_json(tmp_path, name):
    from rankrl.core.metadata import read_metadata, write_metadata

    original = get_paradigm(name, max_passage_chars=300, answer_fallback=True)
    write_metadata(tmp_path, original.metadata())
    rebuilt = paradigm_from_metadata(read_metadata(tmp_path))
    assert rebuilt.metadata() == original.metadata()
    passages = ["one [1]"] if name == "pointwise" else ["one [1]", "two", "three"]
    assert rebuilt.messages("q", passages) == original.messages("q", passages)


def test_rebuild_uses_the_stored_template_text():
    meta = get_paradigm("listwise").metadata()
    meta["template"]["spec"]["user"] = "OLD {query} {passages}"
    assert paradigm_from_metadata(meta).messages("q", ["a"])[1]["content"] == "OLD q [1] a"
    # older metadata with only the name falls back to the shipped file
    assert paradigm_from_metadata({"paradigm": "pointwise", "template": {"name": "pointwise-binary"}}).binary
    with pytest.raises(RankrlError, match="no 'paradigm'"):
        paradigm_from_metadata({"template": "x"})


@pytest.mark.parametrize("name", PARADIGMS)
def test_picklable_and_round_trip(name):
    p = pickle.loads(pickle.dumps(get_paradigm(name)))
    n = 1 if name == "pointwise" else 3
    got = p.parse(p.render_answer(SAMPLE[name], "because"), n)
    assert got == Parsed(
        ok=True,
        value=SAMPLE[name],
        format_ok=True,
        repaired=False,
        error=None,
        reasoning="because",
        answer=p.format_value(SAMPLE[name]),
    )


@pytest.mark.parametrize("name", PARADIGMS)
def test_render_answer_rejects_tags_in_reasoning(name):
    with pytest.raises(RankrlError, match="must not contain"):
        get_paradigm(name).render_answer(SAMPLE[name], "x <answer>y")
    with pytest.raises(RankrlError, match="reasoning must be a string"):
        get_paradigm(name).render_answer(SAMPLE[name], None)
