"""``rankrl score``: JSON output on the real runs, BRIGHT's protocol, per-query values and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import pytrec_eval

from rankrl.core.cli import main
from rankrl.data.trec import read_qrels, read_run

REPO = Path(__file__).resolve().parents[2]


def _dl19(shared_data: Path) -> tuple[str, str]:
    folder = shared_data / "trec-dl"
    return str(folder / "qrels.dl19-passage.txt"), str(folder / "bm25_trec_results_dl19_top100.txt")


def test_default_metrics_on_dl19(shared_data: Path, capsys) -> None:
    qrels, run = _dl19(shared_data)
    assert main(["score", qrels, run, "--rel-level", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["nDCG@5", "nDCG@10", "nDCG@20", "RR@10", "R@10", "R@100", "AP"]
    assert round(out["nDCG@10"], 4) == 0.5058
    direct = pytrec_eval.RelevanceEvaluator(read_qrels(qrels), {"map"}, relevance_level=2).evaluate(
        {q: dict(r) for q, r in read_run(run).items()})
    assert abs(out["AP"] - sum(v["map"] for v in direct.values()) / 43) < 1e-9


def test_per_query_and_metric_selection(shared_data: Path, capsys) -> None:
    qrels, run = _dl19(shared_data)
    assert main(["score", qrels, run, "--metric", "ndcg@10", "-m", "MRR@10", "--per-query"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"nDCG@10", "RR@10", "per_query"}
    assert len(out["per_query"]) == 43
    mean = sum(v["nDCG@10"] for v in out["per_query"].values()) / 43
    assert abs(mean - out["nDCG@10"]) < 1e-12


@pytest.mark.parametrize(("domain", "expected"), [("pony", 19.55), ("theoremqa_theorems", 36.68)])
def test_bright_protocol(shared_data: Path, capsys, tmp_path: Path, domain: str, expected: float) -> None:
    fdom = domain.replace("_", "-")
    folder = shared_data / "bright"
    qrels = folder / "qrels" / f"qrels.bright-{fdom}.txt"
    examples = folder / "examples" / f"topics.bright-{fdom}-original.jsonl.gz"
    run = folder / "runs" / f"{domain}.reasonir_gpt4cot_top100.txt"
    assert main(["score", str(qrels), str(run), "-m", "nDCG@10", "--bright-examples", str(examples)]) == 0
    assert round(100 * json.loads(capsys.readouterr().out)["nDCG@10"], 2) == expected


def test_bad_files_exit_2_with_file_and_line(shared_data: Path, tmp_path: Path, capsys) -> None:
    qrels, run = _dl19(shared_data)
    bad_run = tmp_path / "bad.trec"
    bad_run.write_text("264014 Q0 a 1 2.0 t\n264014 Q0 b 2 two t\n")
    assert main(["score", qrels, str(bad_run)]) == 2
    captured = capsys.readouterr()
    assert f"{bad_run}:2: score 'two' is not a number" in captured.err and captured.out == ""
    assert main(["score", str(tmp_path / "none.txt"), run]) == 2
    assert "none.txt: file not found" in capsys.readouterr().err
    bad_examples = tmp_path / "ex.jsonl"
    bad_examples.write_text('{"id": "1"}\n')
    assert main(["score", qrels, run, "--bright-examples", str(bad_examples)]) == 2
    assert f"{bad_examples}:1: missing field 'query'" in capsys.readouterr().err
    assert main(["score", qrels, run, "-m", "BLEU"]) == 2
    assert "unknown metric 'BLEU'" in capsys.readouterr().err


def test_missing_queries_are_listed_on_stderr(shared_data: Path, tmp_path: Path, capsys) -> None:
    qrels, _ = _dl19(shared_data)
    run = tmp_path / "one.trec"
    run.write_text("264014 Q0 5611210 1 1.0 t\n")
    assert main(["score", qrels, str(run), "-m", "nDCG@10"]) == 0
    captured = capsys.readouterr()
    assert "42 of 43 judged queries have no ranking" in captured.err
    assert json.loads(captured.out)["nDCG@10"] < 0.05


def test_console_entry_point_and_usage_error(shared_data: Path) -> None:
    qrels, run = _dl19(shared_data)
    ok = subprocess.run(check=False, args=[sys.executable, "-m", "rankrl.core.cli", "score", qrels, run, "-m", "nDCG@10"],
                        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert ok.returncode == 0 and round(json.loads(ok.stdout)["nDCG@10"], 4) == 0.5058
    bad = subprocess.run(check=False, args=[sys.executable, "-m", "rankrl.core.cli", "score", qrels], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "usage: rankrl score" in bad.stderr and "Traceback" not in bad.stderr
    broken = subprocess.run(check=False, args=[sys.executable, "-m", "rankrl.core.cli", "score", run, qrels], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "4 columns" in broken.stderr and "bm25_trec_results_dl19_top100.txt:1:" in broken.stderr
