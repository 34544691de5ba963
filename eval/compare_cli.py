"""``rankrl compare --qrels Q RUN_A RUN_B [...]``: paired comparison of runs against the first (the baseline).

Prints a table (or ``--json``): per-metric means, the paired difference against the first run with its standard
error and paired t-test p-value, and per-query wins/ties/losses. Kept free of torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rankrl.core.errors import RankrlError
from rankrl.data.bright import excluded_from_examples, read_examples
from rankrl.data.trec import read_qrels, read_run
from rankrl.eval.compare import compare_runs, format_table
from rankrl.eval.metrics import DEFAULT_METRICS, parse_metric
from rankrl.eval.score_cli import _warnings_to_stderr, report_exclusion


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankrl compare",
        description="Compare TREC runs on the same qrels: per-metric means, the paired difference of each run "
                    "against the first (± standard error, two-sided paired t-test p-value via scipy) and per-query "
                    "wins/ties/losses. Queries judged but missing from a run count as 0.",
        allow_abbrev=False,
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="TREC run files; the first is the baseline")
    parser.add_argument("--qrels", required=True, help="TREC qrels file: qid iter docid grade")
    parser.add_argument("--name", action="append", dest="names", metavar="NAME",
                        help="display name per run, in order (default: the file names)")
    parser.add_argument("--metric", "-m", action="append", dest="metrics", metavar="NAME",
                        help=f"metric (repeatable; default: {' '.join(DEFAULT_METRICS)})")
    parser.add_argument("--rel-level", type=int, default=1, metavar="N",
                        help="minimum grade counted relevant by binary measures (TREC DL: 2)")
    parser.add_argument("--bright-examples", metavar="FILE",
                        help="BRIGHT examples JSONL(.gz): remove excluded_ids from every run (BRIGHT's protocol)")
    parser.add_argument("--depth", "-M", type=int, metavar="N", help="score the first N documents (trec_eval -M)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return parser


def _names(paths: list[str], given: list[str] | None) -> list[str]:
    if given:
        if len(given) != len(paths):
            raise RankrlError(f"--name given {len(given)} times for {len(paths)} runs; give one per run or none")
        names = given
    else:
        names = [Path(p).name for p in paths]
        if len(set(names)) != len(names):  # same file name in different folders: use the paths
            names = list(paths)
    if len(set(names)) != len(names):
        raise RankrlError(f"run names must differ: {names}")
    return names


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if len(args.runs) < 2:
        raise RankrlError("give at least two runs: rankrl compare --qrels QRELS BASELINE_RUN OTHER_RUN [...]")
    if args.depth is not None and args.depth < 1:
        raise RankrlError(f"--depth must be a positive integer, got {args.depth}")
    metrics = args.metrics or list(DEFAULT_METRICS)
    for name in metrics:
        parse_metric(name)
    names = _names(args.runs, args.names)
    with _warnings_to_stderr("rankrl compare"):
        qrels = read_qrels(args.qrels)
        runs = {name: read_run(path) for name, path in zip(names, args.runs)}
        excluded = None
        if args.bright_examples:
            examples = read_examples(args.bright_examples)
            excluded = excluded_from_examples(examples)
            for run in runs.values():
                report_exclusion(args.bright_examples, run, excluded, [e.qid for e in examples], "rankrl compare")
        comparison = compare_runs(qrels, runs, metrics=metrics, rel_level=args.rel_level, excluded=excluded,
                                  depth=args.depth)
    if args.json:
        json.dump(comparison.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(comparison))
    return 0
