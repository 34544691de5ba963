"""rankrl compare: paired differences, standard error, t-test p-value, wins/ties/losses; the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rankrl.core.cli import main as rankrl
from rankrl.core.errors import RankrlError
from rankrl.eval.compare import compare_runs, paired_difference

QRELS = {"1": {"a": 1}, "2": {"b": 1}, "3": {"c": 1}, "4": {"d": 1}}
BASE = {"1": [("a", 2.0), ("x", 1.0)], "2": [("x", 2.0), ("b", 1.0)], "3": [("x", 2.0), ("c", 1.0)],
        "4": [("d", 2.0)]}
OTHER = {"1": [("a", 2.0)], "2": [("b", 2.0), ("x", 1.0)], "3": [("c", 2.0), ("x", 1.0)],
         "4": [("x", 2.0), ("y", 1.5), ("z", 1.0)]}  # query 4 loses its hit at rank 1 (missing d -> RR 0)


def test_paired_statistics_by_hand() -> None:
    cmp = compare_runs(QRELS, {"base": BASE, "other": OTHER}, metrics=["RR"])
    d = cmp.differences["other"]["RR"]
    diffs = [0.0, 0.5, 0.5, -1.0]  # RR: 1->1, 0.5->1, 0.5->1, 1->0
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 3)
    assert d.mean == pytest.approx(mean) and d.stderr == pytest.approx(sd / 2)
    t = mean / (sd / 2)
    from scipy import stats
    assert d.p_value == pytest.approx(2 * stats.t.sf(abs(t), df=3))
    assert (d.wins, d.ties, d.losses, d.n) == (2, 1, 1, 4)
    assert cmp.evaluations["base"].mean["RR"] == pytest.approx(0.75)
    assert cmp.as_dict()["vs_baseline"]["other"]["RR"]["wins"] == 2


def test_identical_runs_have_zero_difference_and_p_one() -> None:
    d = paired_difference("m", {"1": 0.5, "2": 0.2}, {"1": 0.5, "2": 0.2})
    assert (d.mean, d.stderr, d.p_value, d.ties) == (0.0, 0.0, 1.0, 2)


def test_single_query_has_no_standard_error() -> None:
    d = paired_difference("m", {"1": 0.5}, {"1": 0.7})
    assert d.mean == pytest.approx(0.2) and math.isnan(d.stderr) and math.isnan(d.p_value)


def test_needs_two_runs() -> None:
    with pytest.raises(RankrlError, match="at least two runs"):
        compare_runs(QRELS, {"only": BASE})


def _write_run(path: Path, run: dict) -> None:
    path.write_text("".join(f"{q} Q0 {d} {i} {s} t\n" for q, r in run.items() for i, (d, s) in enumerate(r, 1)))


def test_cli_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "qrels").write_text("".join(f"{q} 0 {d} {g}\n" for q, j in QRELS.items() for d, g in j.items()))
    _write_run(tmp_path / "a.run", BASE)
    _write_run(tmp_path / "b.run", OTHER)
    args = ["compare", "--qrels", str(tmp_path / "qrels"), str(tmp_path / "a.run"), str(tmp_path / "b.run"), "-m", "RR"]
    assert rankrl([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["baseline"] == "a.run" and out["queries"] == 4
    assert out["vs_baseline"]["b.run"]["RR"]["diff"] == pytest.approx(0.0)
    assert rankrl(args) == 0
    table = capsys.readouterr().out
    assert "b.run" in table and "2/1/1" in table


def test_cli_errors_name_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "qrels").write_text("1 0 a 1\n")
    _write_run(tmp_path / "a.run", {"1": [("a", 1.0)]})
    assert rankrl(["compare", "--qrels", str(tmp_path / "qrels"), str(tmp_path / "a.run")]) == 2
    assert "at least two runs" in capsys.readouterr().err
    assert rankrl(["compare", "--qrels", str(tmp_path / "qrels"), str(tmp_path / "a.run"), str(tmp_path / "a.run"),
                   "--name", "x"]) == 2
    assert "--name given 1 times for 2 runs" in capsys.readouterr().err
