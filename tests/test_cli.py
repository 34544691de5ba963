"""The top-level dispatcher: usage, unknown commands and user errors exit 2 without a traceback."""

import subprocess
import sys

from rl.cli import main


def test_no_command_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: rankrl" in capsys.readouterr().out


def test_unknown_command_names_valid_choices(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "frobnicate" in err and "train" in err and "eval" in err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "rl.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "score" in out.stdout
