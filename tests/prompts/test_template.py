"""Templates as data: shipped files, overrides by name or path, validation, and their own examples."""

from __future__ import annotations

import json
import re

import pytest

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.prompts import PARADIGMS, available_templates, get_paradigm, load_template
from rankrl.prompts.template import TEMPLATE_DIR, template_from_dict

SHIPPED = sorted(p.stem for p in TEMPLATE_DIR.glob("*.json"))
# Templates that reproduce a published prompt word for word (IRanker's elimination prompt, Rank-R1's SFT prompt) are
# tested against their sources in tests/prompts/test_elimination.py and tests/rl/test_reproduction_recipes.py.
REPRODUCTIONS = {"elimination", "setwise-rank-r1-sft"}
OWN = [s for s in SHIPPED if s not in REPRODUCTIONS]


def test_shipped_templates():
    assert OWN == ["groupwise", "listwise", "pointwise", "pointwise-binary", "setwise"]
    assert REPRODUCTIONS <= set(SHIPPED)
    assert available_templates("pointwise") == ["pointwise", "pointwise-binary"]
    assert available_templates() == SHIPPED


@pytest.mark.parametrize("stem", OWN)
def test_each_file_is_valid_and_named_after_its_file(stem):
    raw = json.loads((TEMPLATE_DIR / f"{stem}.json").read_text(encoding="utf-8"))
    t = template_from_dict(raw, stem)
    assert t.name == stem and t.version == "1" and t.paradigm in PARADIGMS
    assert "<think>" in t.system and "<answer>" in t.system


@pytest.mark.parametrize("stem", OWN)
def test_the_templates_own_example_parses_as_canonical(stem):
    t = load_template(stem.split("-")[0], stem)
    example = re.search(r"<answer>(.*?)</answer>", t.answer_format).group(1)
    n = 1 if t.paradigm == "pointwise" else 3
    p = get_paradigm(t.paradigm, template=stem).parse(f"<think>x</think><answer>{example}</answer>", n)
    assert (p.ok, p.format_ok, p.repaired) == (True, True, False)


def test_override_by_name_and_errors():
    assert get_paradigm("pointwise", template="pointwise-binary").template_name == "pointwise-binary"
    with pytest.raises(
        RankrlError, match=r"unknown template 'pointwise-ternary'.*pointwise, pointwise-binary"
    ):
        get_paradigm("pointwise", template="pointwise-ternary")
    with pytest.raises(RankrlError, match=r"template 'listwise' is for paradigm 'listwise', not 'setwise'"):
        get_paradigm("setwise", template="listwise")


def _custom(**changes):
    raw = {
        "name": "my-listwise",
        "version": 3,
        "paradigm": "listwise",
        "system": "Rank. Use <think></think> then <answer></answer>.",
        "user": "Q={query} N={num_passages}\n{passages}\n{answer_format}",
        "answer_format": "Write [2] > [1].",
    }
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not None}


def test_custom_template_from_path(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(_custom()), encoding="utf-8")
    lw = get_paradigm("listwise", template=str(path))
    assert (lw.template_name, lw.template_version) == ("my-listwise", "3")
    msgs = lw.messages("what {passages} [1]", ["p{query}", "q"])
    assert msgs[1]["content"] == "Q=what {passages} (1) N=2\n[1] p{query}\n\n[2] q\nWrite [2] > [1]."


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_custom(user="no placeholders"), "template field 'user' must contain {query}"),
        (_custom(user="{query} only"), "template field 'user' must contain {passages}"),
        (_custom(system=None), "template field 'system' is missing"),
        (_custom(color="red"), "unknown template field(s) ['color']"),
        (_custom(version=1.5), "template field 'version' must be a string"),
        (_custom(name=" "), "template field 'name' is empty"),
        (_custom(scale="binary"), "template field 'scale' only applies to pointwise templates"),
        (_custom(paradigm="pointwise", scale="ternary"), "template field 'scale' must be one of"),
        ([1, 2], "a template must be a JSON object"),
    ],
)
def test_invalid_template_files_name_the_file_and_field(tmp_path, raw, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        get_paradigm("listwise", template=str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_unreadable_template_files(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"name": ', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"broken.json:1: template is not valid JSON"):
        get_paradigm("listwise", template=str(path))
    with pytest.raises(RankrlError, match="does not exist"):
        get_paradigm("listwise", template=str(tmp_path / "missing.json"))


def test_template_from_mapping_and_hash_changes_with_content():
    a = get_paradigm("listwise", template=_custom())
    b = get_paradigm("listwise", template=_custom(answer_format="Write [1] > [2]."))
    assert a.template.sha256 != b.template.sha256
    assert len(a.template.sha256) == 64
