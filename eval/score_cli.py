"""``rankrl score QRELS RUN``: score a TREC run with trec_eval semantics and print one JSON object.

Kept free of torch and transformers so that scoring a run is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator

from rankrl.eval.metrics import DEFAULT_METRICS, exclusion_summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankrl score",
        description="Score a TREC run against TREC qrels (trec_eval semantics via pytrec_eval). Prints one JSON "
                    "object mapping each metric to its mean over the judged queries; queries judged but missing "
                    "from the run count as 0 and are listed on stderr.",
    )
    parser.add_argument("qrels", help="TREC qrels file: qid iter docid grade")
    parser.add_argument("run", help="TREC run file: qid Q0 docid rank score tag")
    parser.add_argument("--metric", "-m", action="append", dest="metrics", metavar="NAME",
                        help=f"metric (repeatable), ir_measures names: nDCG@k, RR@k, R@k, P@k, AP, AP@k, "
                             f"R(rel=2)@100 ... (default: {' '.join(DEFAULT_METRICS)})")
    parser.add_argument("--rel-level", type=int, default=1, metavar="N",
                        help="minimum grade counted as relevant by binary measures (RR, R, P, AP); TREC DL uses 2 "
                             "(trec_eval -l 2); nDCG always uses the raw grades (default: 1)")
    parser.add_argument("--bright-examples", metavar="FILE",
                        help="BRIGHT examples JSONL(.gz): remove each query's excluded_ids from the run before "
                             "scoring (BRIGHT's protocol)")
    parser.add_argument("--depth", "-M", type=int, metavar="N",
                        help="score only the first N documents of each ranking, in trec_eval's order (trec_eval -M)")
    parser.add_argument("--per-query", action="store_true", help="add per-query values under \"per_query\"")
    return parser


@contextlib.contextmanager
def _warnings_to_stderr(prog: str = "rankrl score") -> Iterator[None]:
    """Show rankrl's warnings (missing queries) on stderr whatever the caller's logging setup is."""
    logger = logging.getLogger("rankrl")  # rankrl.eval (missing queries) and rankrl.data (run file oddities)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prog}: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    previous = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = previous


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    with _warnings_to_stderr():
        return _score(args)


def _score(args: argparse.Namespace) -> int:
    from rankrl.core.fields import fields_as_flags, flag_names
    from rankrl.eval.score import ScoreConfig, score

    config = ScoreConfig(qrels=args.qrels, run=args.run, metrics=args.metrics or list(DEFAULT_METRICS),
                         rel_level=args.rel_level, bright_examples=args.bright_examples, depth=args.depth)
    with fields_as_flags({**flag_names(build_parser()), "metrics": "--metric"}):
        result = score(config, on_exclusion=report_exclusion)
    out: dict[str, object] = dict(result.mean)
    if args.per_query:
        out["per_query"] = result.per_query
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def report_exclusion(examples_path: str, run: dict, excluded: dict[str, set[str]], example_qids: list[str],
                     prog: str = "rankrl score") -> None:
    """Say on stderr how many documents ``--bright-examples`` removed, and warn when its ids miss the run's."""
    summary = exclusion_summary(run, excluded, example_qids)
    print(f"{prog}: --bright-examples removed {summary.removed} excluded document(s) from "
          f"{summary.queries_affected} of {len(run)} queries", file=sys.stderr)
    if summary.uncovered:
        shown = ", ".join(summary.uncovered[:5]) + (" ..." if len(summary.uncovered) > 5 else "")
        print(f"{prog}: warning: {len(summary.uncovered)} of {len(run)} run queries have no record in "
              f"{examples_path} ({shown}); is it the examples file of another domain?", file=sys.stderr)
