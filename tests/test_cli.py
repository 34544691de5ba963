"""The top-level dispatcher: usage, unknown commands and user errors exit 2 without a traceback."""

import subprocess
import sys

from rankrl.core.cli import main


def test_no_command_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr()
    assert "usage: rankrl" in out.err and out.out == ""  # a usage error: stderr, like argparse


def test_unknown_command_names_valid_choices(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "frobnicate" in err and "train" in err and "eval" in err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "rankrl.core.cli", "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "score" in out.stdout


def test_closed_pipe_is_not_an_error(shared_data):
    """`rankrl score … | head -c 1`: no BrokenPipeError traceback."""
    trec = shared_data / "trec-dl"
    cmd = (f"{sys.executable} -m rankrl.core.cli score {trec / 'qrels.dl19-passage.txt'} "
           f"{trec / 'bm25_trec_results_dl19_top100.txt'} --per-query | head -c 1")
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=False)
    assert out.stdout == "{" and "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr


def test_usage_and_help_into_a_closed_pipe_are_not_errors():
    """`rankrl | head -c 1` and `rankrl --help | head -c 1`: exit codes 2 and 0, no BrokenPipeError traceback."""
    for args, code in (("", 2), ("--help", 0), ("--version", 0)):
        cmd = f"{sys.executable} -m rankrl.core.cli {args} 2>&1 | head -c 1; exit ${{PIPESTATUS[0]}}"
        out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=False)
        assert out.returncode == code and "Traceback" not in out.stdout + out.stderr, (args, out)
