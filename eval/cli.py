"""``rankrl eval``: rerank a benchmark with a checkpoint and score it.

A thin adapter: flags -> ``EvalConfig`` (``eval/config.py``, one field per flag) -> ``rankrl.eval.evaluate``
(``eval/api.py``), which checks everything before the output folder is created and writes the completion cache,
run, metrics, traces and report into ``--out`` (rerunning after an interruption resumes from the cache). Errors
from the library name ``EvalConfig`` fields; here they are translated to the flags.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rankrl.core.fields import fields_as_flags, flag_names, from_namespace
from rankrl.eval.config import EvalConfig, field_default, field_help
from rankrl.eval.fusion import FUSIONS, MERGES
from rankrl.prompts import ALL_PARADIGMS


class _Help(argparse.HelpFormatter):
    """Shows a flag's default when it has one and its help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _arg(group: Any, flag: str, dest: str | None = None, **kwargs: Any) -> None:
    """A flag whose default and help come from its ``EvalConfig`` field (``dest``: the field, when it is not the
    flag's name with underscores)."""
    dest = dest or flag.lstrip("-").replace("-", "_")
    kwargs.setdefault("help", field_help(dest))
    if kwargs.get("action") != "store_true" and not kwargs.get("required"):
        kwargs.setdefault("default", field_default(dest))
    if dest != flag.lstrip("-").replace("-", "_"):
        kwargs["dest"] = dest
    # Both spellings, as `rankrl train` (Hugging Face's parser) accepts them: --max-queries and --max_queries.
    flags = [flag] + ([flag[:2] + flag[2:].replace("-", "_")] if "-" in flag[2:] else [])
    group.add_argument(*flags, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rankrl eval", description=__doc__.split("\n\n")[0], formatter_class=_Help,
                                allow_abbrev=False)  # `--win 5` must not silently mean --window
    g = p.add_argument_group("what to evaluate")
    _arg(g, "--model", required=True)
    _arg(g, "--adapter")
    _arg(g, "--benchmark", required=True)
    _arg(g, "--data-dir")
    _arg(g, "--run", "first_stage_run")
    _arg(g, "--corpus")
    _arg(g, "--first-stage", choices=("run", "bm25", "bm25-reasoning"))
    _arg(g, "--qrels-variant", choices=("original", "fixed"))
    _arg(g, "--source")
    _arg(g, "--out", required=True)
    _arg(g, "--max-queries", type=int)
    _arg(g, "--top-k", type=int)
    _arg(g, "--depth", type=int)

    g = p.add_argument_group("paradigm and strategy")
    _arg(g, "--paradigm")
    _arg(g, "--template")
    _arg(g, "--strategy", choices=ALL_PARADIGMS)
    _arg(g, "--sort", choices=("heapsort", "bubblesort"))
    _arg(g, "--num-child", type=int)
    _arg(g, "--k", type=int)
    _arg(g, "--window", type=int)
    _arg(g, "--stride", type=int)
    _arg(g, "--passes", type=int)
    _arg(g, "--group-size", type=int)
    _arg(g, "--no-expected-score", action="store_true")
    _arg(g, "--logprobs", type=int)
    _arg(g, "--repeats", type=int)
    _arg(g, "--merge", choices=MERGES)
    _arg(g, "--fusion", choices=FUSIONS)
    _arg(g, "--fusion-weight", type=float)
    _arg(g, "--max-passage-tokens", type=int)
    _arg(g, "--max-passage-chars", type=int)
    _arg(g, "--max-prompt-tokens", type=int)
    _arg(g, "--max-passage-words", type=int)
    _arg(g, "--max-query-tokens", type=int)
    _arg(g, "--shuffle-comparisons", action=argparse.BooleanOptionalAction)
    _arg(g, "--permutations", type=int)
    _arg(g, "--scoring", choices=("parse", "true-false", "first-token", "score-probability", "expected-score"))

    g = p.add_argument_group("generation")
    _arg(g, "--backend", choices=("vllm", "hf"))
    _arg(g, "--temperature", type=float)
    _arg(g, "--top-p", type=float)
    _arg(g, "--seed", type=int)
    _arg(g, "--max-new-tokens", type=int)
    _arg(g, "--batch-size", type=int)
    _arg(g, "--device")
    _arg(g, "--dtype")
    _arg(g, "--tensor-parallel-size", type=int)
    _arg(g, "--max-model-len", type=int)
    _arg(g, "--gpu-memory-utilization", type=float)
    _arg(g, "--enforce-eager", action="store_true")
    _arg(g, "--chat-template-kwargs")

    g = p.add_argument_group("scoring and output")
    _arg(g, "--metrics")
    _arg(g, "--rel-level", type=int)
    _arg(g, "--no-progress", action="store_true")
    _arg(g, "--warn-unparsed", type=float)
    _arg(g, "--max-unparsed", type=float)
    return p


def parse_config(argv: list[str]) -> tuple[EvalConfig, argparse.ArgumentParser]:
    """Flags -> ``EvalConfig`` (field by field, by name), checked; errors name the flag."""
    from dataclasses import replace

    from rankrl.eval.protocol import given_fields

    parser = build_parser()
    config = from_namespace(EvalConfig, parser.parse_args(argv))
    config = replace(config, explicit=given_fields(parser, argv))  # a template's defaults never override a flag
    with fields_as_flags(flag_names(parser)):
        config.validate()
    return config, parser


# --- main ------------------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    """Parse the flags into an ``EvalConfig`` and run ``rankrl.eval.evaluate``; errors name flags."""
    from rankrl.eval.api import evaluate

    config, parser = parse_config(argv)
    from rankrl.core.errors import RankrlError
    from rankrl.core.flag_text import as_flag_message, flag_map

    try:
        with fields_as_flags(flag_names(parser)):
            result = evaluate(config, command="rankrl eval " + " ".join(argv))
    except RankrlError as err:  # library messages name fields (source='hf'); the user typed flags (--source hf)
        translated = as_flag_message(err, flag_map(parser))
        if translated is err:
            raise
        raise translated from err
    multi = len(result.benchmarks) > 1
    from rankrl.eval.protocol import unparsed_report

    unparsed = unparsed_report(result.benchmarks)
    print(f"rankrl eval: nDCG@10 = {result.ndcg10:.4f}"
          + (f" (mean of {len(result.benchmarks)} benchmarks)" if multi else "")
          + f"; {unparsed.summary()}; outputs in {result.out}", file=sys.stderr)
    from rankrl.eval.report import describe_difference, vs_first_stage

    for r in result.benchmarks:  # paired difference against the first stage, per benchmark
        diffs = vs_first_stage(r)
        if diffs and "nDCG@10" in diffs:
            print(f"rankrl eval: {r.name + ' ' if multi else ''}nDCG@10 vs first stage "
                  f"{describe_difference(diffs['nDCG@10'])}", file=sys.stderr)
    if config.max_unparsed is not None and unparsed.fraction > config.max_unparsed:
        print(f"rankrl eval: error: {unparsed.failures} of {unparsed.prompts} answers failed to parse "
              f"({100 * unparsed.fraction:.1f}%), more than --max-unparsed {config.max_unparsed:g}; first error "
              f"({unparsed.first_prompt}): {unparsed.first_error}", file=sys.stderr)
        return 3
    return 0
