"""rankrl train/sft --help: fast (no TRL import), rankrl's fields first, TRL condensed; bare train; --version."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rankrl.core.cli import main as rankrl

CHECK = """
import sys
from rankrl.core.cli import main
code = main([{args}])
heavy = sorted(m for m in ("trl", "torch", "transformers") if m in sys.modules)
print("HEAVY", heavy, "CODE", code)
"""


def _run(*args: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHECK.format(args=", ".join(repr(a) for a in args))],
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


@pytest.mark.parametrize("command", ["train", "sft"])
def test_help_imports_no_trl_and_lists_rankrl_fields_first(command: str) -> None:
    out = _run(command, "--help")
    assert "HEAVY [] CODE 0" in out  # nothing heavy imported: the help is instant
    lines = out.splitlines()
    assert lines[0] == f"usage: rankrl {command} --config RECIPE.yaml [--FIELD VALUE ...]"
    config = next(i for i, line in enumerate(lines) if line.startswith("  --config"))
    trl = next(i for i, line in enumerate(lines) if line.startswith("TRL "))
    own = next(i for i, line in enumerate(lines) if line.startswith("rankrl's fields"))
    assert config < own < trl < 60  # rankrl's own options fit one screen before TRL's
    assert "  --paradigm STR" in "\n".join(lines[own:trl])
    assert "--help-all" in out and len(lines) < 200


def test_help_all_explains_every_trl_field_and_hides_hf_debug(capsys: pytest.CaptureFixture[str]) -> None:
    from rankrl.rl.trl_fields import FIELDS

    assert rankrl(["train", "--help-all"]) == 0
    out = capsys.readouterr().out
    for item in FIELDS["GRPOConfig"] + FIELDS["ModelConfig"]:
        if item["name"] != "debug":
            assert f"  --{item['name']} " in out or f"  --{item['name']}\n" in out, item["name"]
    assert out.count("  --debug") == 1 and "show the traceback" in out  # rankrl's flag only


def test_bare_train_asks_for_a_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    assert rankrl(["train"]) == 2
    err = capsys.readouterr().err
    assert "pass a recipe: rankrl train --config RECIPE.yaml" in err and "bf16" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert rankrl(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rankrl {version('rankrl')}"


@pytest.mark.slow
def test_trl_field_snapshot_is_current() -> None:
    """rl/trl_fields.py equals the installed TRL's dataclasses (regenerate: python -m rankrl.rl.train_help
    --regenerate)."""
    from rankrl.rl.train_help import snapshot_trl_fields
    from rankrl.rl.trl_fields import FIELDS, TRL_VERSION

    version, fields = snapshot_trl_fields()
    assert (version, fields) == (TRL_VERSION, FIELDS)
