"""BRIGHT examples: the 12 real domains, qrels/excluded derivation, malformed records, and the Hub loader."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data import bright
from rankrl.data.trec import read_qrels

EXPECTED_QUERIES = {"biology": 103, "earth_science": 116, "economics": 103, "psychology": 101, "robotics": 101,
                    "stackoverflow": 117, "sustainable_living": 108, "leetcode": 142, "pony": 112, "aops": 111,
                    "theoremqa_theorems": 76, "theoremqa_questions": 194}


def test_domain_names() -> None:
    assert bright.DOMAINS == tuple(EXPECTED_QUERIES)
    assert bright.normalize_domain("Earth-Science") == "earth_science"
    assert bright.file_domain("theoremqa_theorems") == "theoremqa-theorems"
    with pytest.raises(RankrlError, match="valid choices: aops, biology"):
        bright.normalize_domain("chemistry")


@pytest.mark.parametrize("domain", bright.DOMAINS)
def test_examples_give_the_original_qrels(shared_data: Path, domain: str) -> None:
    fdom = bright.file_domain(domain)
    examples = bright.read_examples(shared_data / "bright" / "examples" / f"topics.bright-{fdom}-original.jsonl.gz")
    assert len(examples) == EXPECTED_QUERIES[domain]
    qrels = bright.qrels_from_examples(examples)
    assert qrels == read_qrels(shared_data / "bright" / "qrels" / f"qrels.bright-{fdom}.txt")
    excluded = bright.excluded_from_examples(examples)
    assert all(bright.PLACEHOLDER not in ids for ids in excluded.values())
    # leetcode, aops and the theoremqa_questions exclude documents for every query; the others never do.
    assert len(excluded) == (len(examples) if domain in ("leetcode", "aops", "theoremqa_questions") else 0)


def test_long_document_qrels_and_placeholders(shared_data: Path) -> None:
    examples = bright.read_examples(shared_data / "bright" / "examples" / "topics.bright-pony-original.jsonl.gz")
    first = examples[0]
    assert first.qid == "0" and first.excluded_ids == ("N/A",) and first.excluded == set()
    long_qrels = bright.qrels_from_examples(examples, long_documents=True)
    assert long_qrels["0"] == {d: 1 for d in first.gold_ids_long}
    assert "Pony/4_control-structures.txt" in long_qrels["0"]


def _record(**override):
    record = {"query": "q", "reasoning": "N/A", "id": "0", "excluded_ids": ["N/A"], "gold_ids_long": [],
              "gold_ids": ["d1"], "gold_answer": "N/A"}
    record.update(override)
    return {k: v for k, v in record.items() if v is not None}


@pytest.mark.parametrize(("bad", "words"), [
    (_record(id=None), "missing field 'id'"),
    (_record(query=""), "field 'query' is empty"),
    (_record(gold_ids=None), "missing field 'gold_ids'"),
    (_record(gold_ids=[]), "empty 'gold_ids'"),
    (_record(excluded_ids="N/A"), "'excluded_ids' must be a list"),
    (_record(excluded_ids=None), "missing field 'excluded_ids'"),
    (_record(gold_ids=["d1", 3]), "'gold_ids' must be a list of non-empty strings"),
    (_record(id="0"), "duplicate id '0' (first on line 1)"),
])
@pytest.mark.parametrize("compressed", [False, True])
def test_malformed_examples_name_file_and_line(tmp_path: Path, bad, words, compressed) -> None:
    lines = [json.dumps(_record(id="0")), json.dumps(_record(id="1")), json.dumps(bad)]
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / ("ex.jsonl.gz" if compressed else "ex.jsonl")
    path.write_bytes(gzip.compress(text) if compressed else text)
    with pytest.raises(DataFormatError) as info:
        bright.read_examples(path)
    assert info.value.path == str(path) and info.value.line == 3
    assert words in str(info.value)


def test_bad_json_line_in_examples(tmp_path: Path) -> None:
    path = tmp_path / "ex.jsonl"
    path.write_text(json.dumps(_record()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"ex.jsonl:2: invalid JSON"):
        bright.read_examples(path)


class _FakeHub:
    """Stands in for ``datasets.load_dataset`` to check how the Hub rows are mapped (no network in tests)."""

    def __init__(self, tables):
        self.tables, self.calls = tables, []

    def __call__(self, repo, config, split, revision, cache_dir):
        self.calls.append((repo, config, split, revision))
        return self.tables[config]


def test_hub_loader_maps_rows_and_pins_the_revision(monkeypatch) -> None:
    import datasets

    hub = _FakeHub({
        "examples": [_record(id="0", gold_ids=["a"], excluded_ids=["z"]), _record(id="1", gold_ids=["b", "c"])],
        "documents": [{"id": "a", "content": "text a"}, {"id": "b", "content": "text b"}],
    })
    monkeypatch.setattr(datasets, "load_dataset", hub)
    examples = bright.hf_examples("earth-science")
    assert [e.qid for e in examples] == ["0", "1"] and examples[0].excluded == {"z"}
    docs = bright.hf_documents("earth_science")
    assert docs["b"].text == "text b"
    assert hub.calls == [("xlangai/BRIGHT", "examples", "earth_science", bright.HF_REVISION),
                         ("xlangai/BRIGHT", "documents", "earth_science", bright.HF_REVISION)]
    with pytest.raises(RankrlError, match="no long_documents"):
        bright.hf_documents("leetcode", long_documents=True)


def test_hub_rows_are_validated(monkeypatch) -> None:
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", _FakeHub({"examples": [_record(id="0"), _record(id="1", gold_ids=[])]}))
    with pytest.raises(DataFormatError, match=r"hf://xlangai/BRIGHT@.*/examples/pony:2: .*empty 'gold_ids'"):
        bright.hf_examples("pony")


def test_hub_loader_fails_clearly_offline(tmp_path: Path) -> None:
    """A real ``datasets.load_dataset`` call with the Hub unreachable (offline mode, empty cache)."""
    code = ("from rankrl.data.bright import hf_examples\n"
            "from rankrl.core.errors import RankrlError\n"
            "try:\n    hf_examples('pony')\nexcept RankrlError as e:\n    print('RANKRL', e)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run(check=False, args=[sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert "RANKRL could not load xlangai/BRIGHT config 'examples' split 'pony'" in out.stdout, out.stderr[-2000:]
    assert "data_dir" in out.stdout
