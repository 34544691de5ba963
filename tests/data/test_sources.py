"""One source vocabulary: ``rankrl data build``'s flags are ``RowsSource``'s fields (the keys of a ``rankrl
train`` recipe), every source works in both, and the source check names fields."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from rankrl.core.fields import FieldError
from rankrl.data.cli import _parser
from rankrl.data.sources import SOURCE_KINDS, RowsSource, build_rows

REPO_ROOT = Path(__file__).resolve().parents[2]


def _build_parser():
    import argparse

    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["build"]


def test_data_build_flags_are_the_train_recipe_fields():
    from rankrl.rl.config import ScriptArguments

    source = {f.name for f in fields(RowsSource)}
    assert source <= {f.name for f in fields(ScriptArguments)}  # every source field is a recipe key
    parser = _build_parser()
    for name in source:  # and a data-build flag, in both spellings train accepts
        for flag in {f"--{name}", f"--{name.replace('_', '-')}"}:
            assert parser.parse_known_args(["--data-source", "synthetic", "--out", "x", flag, "1"])[0] is not None
            assert any(flag in a.option_strings and a.dest == name for a in parser._actions), flag


def test_both_spellings_give_the_same_config():
    from rankrl.data.cli import config_from_args

    args = ["build", "--data-source", "synthetic", "--out", "o"]
    one = config_from_args(_parser().parse_args([*args, "--group-size", "4", "--rows-seed", "3"]))
    two = config_from_args(_parser().parse_args([*args, "--group_size", "4", "--rows_seed", "3"]))
    assert one == two and one.source.group_size == 4 and one.source.rows_seed == 3


def test_rows_config_is_built_from_the_source_fields():
    config = RowsSource(data_source="synthetic", group_size=6, top_n=30, rows_seed=2, allow_no_negative=True,
                        paradigm="listwise", max_passage_chars=50).rows_config()
    assert (config.paradigm, config.group_size, config.top_n, config.seed, config.require_negative,
            config.max_passage_chars) == ("listwise", 6, 30, 2, False, 50)


@pytest.mark.parametrize(("source", "field", "text"), [
    (RowsSource(), "data_source", "is not set"),
    (RowsSource(data_source="msmarco:x"), "data_source", "kind 'msmarco' is not one of"),
    (RowsSource(data_source="rankgpt:c.json"), "rankgpt_qrels", "is needed with data_source rankgpt"),
    (RowsSource(data_source="synthetic", rankgpt_qrels="q"), "rankgpt_qrels", "is only used with"),
    (RowsSource(data_source="tevatron:hf", positives_per_group=20), "positives_per_group", "must be in"),
    (RowsSource(data_source="tevatron:hf", allow_no_negative=True), "allow_no_negative", "does not apply"),
    (RowsSource(data_source="synthetic", group_size=30, top_n=20), "top_n", "must be >= group_size"),
    (RowsSource(data_source="synthetic", paradigm="pairwise"), "paradigm", "unknown paradigm"),
])
def test_the_source_check_names_the_field(source, field, text):
    problems = source.problems(check_paths=False)
    assert problems and problems[0].field == field and text in str(problems[0])


def test_every_source_kind_builds_rows_through_one_dispatch(tmp_path):
    """synthetic and benchmark:local here; tevatron and rankgpt files are covered by tests/data/test_data_cli.py
    through the same build_rows."""
    assert SOURCE_KINDS == ("synthetic", "benchmark", "tevatron", "rankgpt")
    synthetic = build_rows(RowsSource(data_source="synthetic", synthetic_queries=3, group_size=4), as_dataset=False)
    assert synthetic.stats["rows"] == 3 and synthetic.stats["source"]["data_source"] == "synthetic"
    from rankrl.data.benchmarks import write_local_benchmark
    from rankrl.data.synthetic import synthetic_benchmark

    folder = write_local_benchmark(synthetic_benchmark(3, 4, 0), tmp_path / "bench")
    local = build_rows(RowsSource(data_source=f"benchmark:local:{folder}", group_size=4, top_n=4),
                       as_dataset=False)
    assert local.stats["rows"] == 3 and local.stats["source"]["kind"] == "benchmark"
    with pytest.raises(FieldError, match="^rankgpt_qrels is needed"):
        build_rows(RowsSource(data_source="rankgpt:x.json"))
