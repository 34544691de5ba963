"""``EvalConfig`` and ``rankrl eval``'s flags are one list: every flag maps to a field by name, with the same
default and help, and library errors name fields while the CLI names flags."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields

import pytest

from rankrl.core.fields import FieldError, flag_names
from rankrl.eval.cli import build_parser, parse_config
from rankrl.eval.config import EvalConfig


def _actions() -> list[argparse.Action]:
    return [a for a in build_parser()._actions if a.dest != "help"]


NOT_FLAGS = {"explicit"}  # filled by the CLI itself: which fields the user set (preset defaults never override them)


def test_every_flag_has_a_field_and_every_field_a_flag():
    assert {a.dest for a in _actions()} == {f.name for f in fields(EvalConfig)} - NOT_FLAGS


def test_flag_defaults_and_help_are_the_fields():
    by_name = {f.name: f for f in fields(EvalConfig)}
    for action in _actions():
        f = by_name[action.dest]
        assert f.metadata["help"], f.name
        if not action.required:
            assert action.default == f.default, f.name
        assert action.help == f.metadata["help"], f.name
        assert f.default is not MISSING


def test_flags_become_the_config_field_by_field(tmp_path):
    config, _ = parse_config(["--model", "m", "--benchmark", "trec-dl-2019,bright/pony", "--out", str(tmp_path / "o"),
                              "--run", "runs/{domain}.txt", "--window", "8", "--stride", "4", "--no-progress",
                              "--chat-template-kwargs", '{"enable_thinking": false}'])
    from dataclasses import replace

    assert replace(config, explicit=()) == EvalConfig(model="m", benchmark="trec-dl-2019,bright/pony", out=str(tmp_path / "o"),
                                first_stage_run="runs/{domain}.txt", window=8, stride=4, no_progress=True,
                                chat_template_kwargs='{"enable_thinking": false}')
    assert config.benchmark_names() == ["trec-dl-2019", "bright/pony"]
    assert config.template_kwargs() == {"enable_thinking": False}
    assert config.metric_names()[0] == "nDCG@10"


def test_library_errors_name_fields_and_the_cli_names_flags(tmp_path):
    with pytest.raises(FieldError, match="^top_p must be in"):
        EvalConfig(model="m", benchmark="b", top_p=0).validate()
    with pytest.raises(FieldError, match="^chat_template_kwargs must be a JSON object"):
        EvalConfig(model="m", benchmark="b", chat_template_kwargs="[1]").validate()
    from rankrl.core.errors import ConfigError

    with pytest.raises(ConfigError, match="^--top-p must be in"):
        parse_config(["--model", "m", "--benchmark", "b", "--out", str(tmp_path / "o"), "--top-p", "0"])
    with pytest.raises(ConfigError, match="^--run "):
        from rankrl.core.fields import as_flag_error

        raise as_flag_error(FieldError("first_stage_run", "x"), flag_names(build_parser()))


def test_a_list_of_benchmarks_and_metrics_works_in_the_library():
    config = EvalConfig(model="m", benchmark=["trec-dl-2019", " trec-dl-2020 "], metrics=("RR@10",))
    assert config.benchmark_names() == ["trec-dl-2019", "trec-dl-2020"]
    assert config.metric_names() == ("nDCG@10", "RR@10")
