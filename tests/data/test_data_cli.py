"""``rankrl data build`` end to end: datasets on disk, build.json, the printed table, and user errors (exit 2,
nothing written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rankrl.core.cli import main

REPO = Path(__file__).resolve().parents[2]
COLUMNS = ["prompt", "qid", "docids", "relevance", "paradigm", "group"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="module")
def dl19(shared_data):
    folder = shared_data / "trec-dl"
    return folder / "bm25_retrieve_results_dl19_top100.json", folder / "qrels.dl19-passage.txt"


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    """A byte-level BPE tokenizer trained offline with ``tokenizers``, saved like a model's tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|eos|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(["how long is the life cycle of a flea", "passages answer queries"] * 5, trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|eos|>")
    hf.chat_template = CHAT_TEMPLATE
    folder = tmp_path_factory.mktemp("tok")
    hf.save_pretrained(str(folder))
    return folder


def _tevatron_file(path: Path) -> Path:
    records = []
    for q in range(4):
        records.append(
            {
                "query_id": str(q),
                "query": f"question number {q}",
                "positive_passages": [{"docid": f"p{q}", "title": "", "text": f"the answer to {q}"}],
                "negative_passages": [
                    {"docid": f"n{q}-{i}", "title": "", "text": f"unrelated text {i}"} for i in range(12)
                ],
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _build(*args: str) -> int:
    return main(["data", "build", *args, "--no-progress"])


def test_rankgpt_source_end_to_end(tmp_path, dl19, capsys):
    import datasets

    out = tmp_path / "rows"
    candidates, qrels = dl19
    code = _build(
        "--data-source",
        f"rankgpt:{candidates}",
        "--rankgpt-qrels",
        str(qrels),
        "--paradigm",
        "listwise",
        "--out",
        str(out),
        "--group-size",
        "10",
        "--top-n",
        "50",
        "--rows-seed",
        "3",
    )
    printed = capsys.readouterr().out
    assert code == 0
    dataset = datasets.load_from_disk(str(out))
    assert dataset.column_names == COLUMNS
    build = json.loads((out / "build.json").read_text())
    info = build["stats"]
    assert build["command"][:3] == ["rankrl", "data", "build"] and build["columns"] == COLUMNS
    assert len(dataset) == info["rows"] == info["groups"] == info["queries_used"]
    assert info["queries"] == 43 and info["queries_used"] + info["queries_skipped"] == 43
    assert info["config"]["group_size"] == 10 and info["config"]["seed"] == 3  # --rows-seed
    assert info["source"] == {"kind": "rankgpt", "candidates": str(candidates), "qrels": str(qrels),
                              "data_source": f"rankgpt:{candidates}"}
    assert info["degenerate_group_fraction"] == 0.0
    row = dataset[0]
    assert len(row["docids"]) == 10 and 0 < sum(g >= 1 for g in row["relevance"]) < 10
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert "| groups whose rewards cannot differ | 0 (0.0%) |" in printed
    assert f"| rows | {len(dataset)} |" in printed and "prompt chars p50 / p90 / p99 / max" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows"]


def test_benchmark_source_with_token_budget(tmp_path, shared_data, tokenizer_dir, capsys):
    from rankrl.data.rows import load_rows

    out = tmp_path / "pointwise"
    code = _build(
        "--data-source",
        "benchmark:trec-dl-2019",
        "--benchmark-dir",
        str(shared_data),
        "--paradigm",
        "pointwise",
        "--out",
        str(out),
        "--group-size",
        "4",
        "--top-n",
        "30",
        "--tokenizer",
        str(tokenizer_dir),
        "--max-prompt-tokens",
        "600",
    )
    printed = capsys.readouterr().out
    assert code == 0
    rows = load_rows(out)
    build = json.loads((out / "build.json").read_text())
    info = build["stats"]
    assert len(rows) == 4 * info["groups"] and all(len(d) == 1 for d in rows["docids"])
    assert info["prompt_length"]["unit"] == "tokens" and info["prompt_length"]["max"] <= 600
    assert 0 < info["truncation_rate"] <= 1 and info["paradigm"]["truncation"]["max_prompt_tokens"] == 600
    assert info["source"]["name"] == "trec-dl-2019" and build["tokenizer"] == str(tokenizer_dir)
    assert "prompt tokens p50 / p90 / p99 / max" in printed


def test_tevatron_file_source(tmp_path):
    import datasets

    source = _tevatron_file(tmp_path / "train.jsonl")
    out = tmp_path / "tev"
    code = _build(
        "--data-source",
        f"tevatron:{source}",
        "--paradigm",
        "setwise",
        "--out",
        str(out),
        "--group-size",
        "8",
        "--groups-per-query",
        "2",
    )
    assert code == 0
    dataset = datasets.load_from_disk(str(out))
    assert len(dataset) == 8
    assert all(sorted(r) == [0] * 7 + [1] for r in dataset["relevance"])
    assert json.loads((out / "build.json").read_text())["stats"]["source"]["positives_per_group"] == 1


def test_overwrite_replaces_and_same_seed_rebuilds_identically(tmp_path):
    import datasets

    source = _tevatron_file(tmp_path / "train.jsonl")
    out = tmp_path / "tev"
    args = [
        "--data-source",
        f"tevatron:{source}",
        "--paradigm",
        "listwise",
        "--out",
        str(out),
        "--group-size",
        "5",
    ]
    assert _build(*args) == 0
    first = datasets.load_from_disk(str(out)).to_list()
    assert _build(*args) == 2  # exists
    assert _build(*args, "--overwrite") == 0
    assert datasets.load_from_disk(str(out)).to_list() == first
    assert _build(*args, "--overwrite", "--rows-seed", "9") == 0
    assert datasets.load_from_disk(str(out)).to_list() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tev", "train.jsonl"]


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_qrels_file", "file not found: {tmp}/absent.txt (--rankgpt-qrels)"),
        ("no_qrels_flag", "--rankgpt-qrels is needed with data_source rankgpt:FILE"),
        ("unknown_source", "--data-source kind 'msmarco' is not one of synthetic, benchmark, tevatron, rankgpt"),
        ("unknown_paradigm", "unknown paradigm 'pairwise'"),
        ("top_n_below_group", "--top-n (5) must be >= group_size (20)"),
        ("bad_candidates", "{tmp}/bad.json:1:"),
        ("bad_tevatron_line", "{tmp}/bad.jsonl:2: field 'query' is missing or empty"),
        ("unknown_benchmark", "unknown benchmark"),
        ("prompt_budget_without_tokenizer", "--max-prompt-tokens needs a tokenizer"),
        ("tokenizer_not_found", "tokenizer folder not found: {tmp}/nowhere (--tokenizer"),
        ("all_skipped", "no training rows were built: every query was skipped (no relevant passage"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, dl19, case, expected, capsys):
    candidates, qrels = dl19
    (tmp_path / "bad.json").write_text('{"query": "not a list"}', encoding="utf-8")
    good = json.dumps({"query_id": "1", "query": "q", "positive_passages": [], "negative_passages": []})
    (tmp_path / "bad.jsonl").write_text(good + "\n" + json.dumps({"query_id": "2"}) + "\n", encoding="utf-8")
    (tmp_path / "nopos.jsonl").write_text(good + "\n", encoding="utf-8")
    out = tmp_path / "out"
    base = ["--paradigm", "listwise", "--out", str(out)]
    args = {
        "missing_qrels_file": [
            "--data-source",
            f"rankgpt:{candidates}",
            "--rankgpt-qrels",
            str(tmp_path / "absent.txt"),
        ],
        "no_qrels_flag": ["--data-source", f"rankgpt:{candidates}"],
        "unknown_source": ["--data-source", "msmarco:train"],
        "unknown_paradigm": ["--data-source", f"rankgpt:{candidates}", "--rankgpt-qrels", str(qrels)],
        "top_n_below_group": ["--data-source", f"rankgpt:{candidates}", "--rankgpt-qrels", str(qrels), "--top-n",
                              "5"],
        "bad_candidates": ["--data-source", f"rankgpt:{tmp_path / 'bad.json'}", "--rankgpt-qrels", str(qrels)],
        "bad_tevatron_line": ["--data-source", f"tevatron:{tmp_path / 'bad.jsonl'}"],
        "unknown_benchmark": ["--data-source", "benchmark:trec-dl-2042", "--benchmark-dir", str(tmp_path)],
        "prompt_budget_without_tokenizer": [
            "--data-source",
            f"tevatron:{tmp_path / 'bad.jsonl'}",
            "--max-prompt-tokens",
            "100",
        ],
        "tokenizer_not_found": [
            "--data-source",
            f"tevatron:{tmp_path / 'bad.jsonl'}",
            "--tokenizer",
            str(tmp_path / "nowhere"),
        ],
        "all_skipped": ["--data-source", f"tevatron:{tmp_path / 'nopos.jsonl'}", "--group-size", "2"],
    }[case]
    if case == "unknown_paradigm":
        base = ["--paradigm", "pairwise", "--out", str(out)]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert _build(*args, *base) == 2
    err = capsys.readouterr().err
    assert err.startswith("rankrl data: error: ")
    assert expected.format(tmp=tmp_path) in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no temporary folder


def test_existing_output_is_left_untouched(tmp_path, dl19, capsys):
    candidates, qrels = dl19
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    code = _build(
        "--data-source",
        f"rankgpt:{candidates}",
        "--rankgpt-qrels",
        str(qrels),
        "--paradigm",
        "setwise",
        "--out",
        str(out),
    )
    assert code == 2 and "already exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_hub_source_offline_fails_clearly(tmp_path):
    """``--source tevatron hf`` offline: exit 2, a clear message, no output (the real Hub client)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = tmp_path / "rows"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rankrl.core.cli",
            "data",
            "build",
            "--data-source",
            "tevatron:hf",
            "--paradigm",
            "setwise",
            "--out",
            str(out),
            "--source-limit",
            "10",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "cannot load hf://datasets/Tevatron/msmarco-passage@" in proc.stderr
    assert "data_source tevatron:FILE" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_usage_and_unknown_command(capsys):
    assert main(["data"]) == 2
    assert main(["data", "--help"]) == 0
    assert "build" in capsys.readouterr().out
    assert main(["data", "frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
