"""``rankrl data build``: turn a data source into training rows saved as a Hugging Face dataset.

Everything the user can get wrong (source, files, paradigm, sizes, output folder, tokenizer) is checked before
the output folder is created; the dataset is written into a temporary sibling and renamed into place.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from rankrl.core.atomic import check_creatable
from rankrl.core.errors import ConfigError, RankrlError

SOURCES = ("benchmark", "rankgpt", "tevatron")
SKIP_REASONS = {
    "not_judged": "query not in the qrels",
    "no_candidates": "no first-stage candidates",
    "no_relevant_in_top_n": "no relevant passage in the top N",
    "no_non_relevant_in_top_n": "no non-relevant passage in the top N",
    "too_few_candidates": "fewer candidates than the group size",
    "too_few_negatives": "too few negatives to fill a group",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rankrl data", description="Build and inspect training rows.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = sub.add_parser(
        "build",
        help="build training rows from a data source",
        description=(
            "Build GRPO training rows (prompt, qid, docids, relevance, paradigm, group) and save them with "
            "datasets.save_to_disk. Sources: 'benchmark NAME' (e.g. trec-dl-2019, local:DIR), "
            "'rankgpt FILE --qrels FILE', 'tevatron FILE' or 'tevatron hf' (Hugging Face Hub, needs network)."
        ),
    )
    build.add_argument("--source", nargs=2, metavar=("KIND", "VALUE"), required=True, help="data source")
    build.add_argument("--qrels", type=Path, help="TREC qrels (with --source rankgpt)")
    build.add_argument("--paradigm", required=True, help="setwise, listwise, pointwise or groupwise")
    build.add_argument(
        "--out", type=Path, required=True, help="output folder (must not exist unless --overwrite)"
    )
    build.add_argument("--group-size", type=int, default=20, help="passages per group (default 20)")
    build.add_argument("--top-n", type=int, default=100, help="first-stage depth groups are drawn from")
    build.add_argument("--groups-per-query", type=int, default=1)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument(
        "--rel-threshold", type=int, default=1, help="grade at or above which a passage is relevant"
    )
    build.add_argument(
        "--allow-no-negative",
        action="store_true",
        help="keep queries whose top-N has no non-relevant passage (groups may then be all relevant)",
    )
    build.add_argument("--positives-per-group", type=int, default=1, help="tevatron: positives in each group")
    build.add_argument("--limit", type=int, help="tevatron: read at most this many queries")
    build.add_argument("--hf-dataset", default=None, help="tevatron hf: dataset repository")
    build.add_argument("--hf-split", default="train", help="tevatron hf: split (file <split>.jsonl.gz)")
    build.add_argument("--hf-revision", default=None, help="tevatron hf: revision (default: pinned commit)")
    build.add_argument("--data-dir", type=Path, help="benchmark: folder with the benchmark's local files")
    build.add_argument(
        "--run", type=Path, help="benchmark: first stage from this TREC run instead of its own"
    )
    build.add_argument(
        "--tokenizer", type=Path, help="tokenizer folder or Hub model id: token budgets and counts"
    )
    build.add_argument("--max-prompt-tokens", type=int, help="truncate passages so the prompt fits (tokens)")
    build.add_argument("--max-passage-tokens", type=int, help="truncate each passage to this many tokens")
    build.add_argument("--max-passage-chars", type=int, help="truncate each passage to this many characters")
    build.add_argument("--template", help="prompt template name or JSON file (default: the paradigm's)")
    build.add_argument("--num-proc", type=int, default=1, help="processes rendering/token-counting prompts")
    build.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    build.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise RankrlError(f"{what} not found: {path}")


def _load_tokenizer(path: Path) -> Any:
    """A local tokenizer folder, or a Hub model id such as ``Qwen/Qwen3-4B`` (cached, or downloaded)."""
    hub_id = not path.exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", str(path)) is not None
    if not path.is_dir() and not hub_id:
        raise RankrlError(
            f"tokenizer folder not found: {path} (give a folder saved with save_pretrained or a Hub model id)"
        )
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=not hub_id)
    except Exception as err:  # any load failure is a problem with the user's folder or id
        raise RankrlError(f"cannot load a tokenizer from {path}: {err}") from err


def _validate(args: argparse.Namespace) -> None:
    """Checks that need no data loading; run before anything is read or written."""
    from rankrl.data.rows import RowsConfig

    kind, value = args.source
    if kind not in SOURCES:
        raise RankrlError(f"unknown source kind {kind!r}; valid choices: {', '.join(SOURCES)}")
    if kind == "rankgpt":
        if args.qrels is None:
            raise ConfigError("--source rankgpt FILE needs --qrels FILE")
        _check_file(Path(value), "RankGPT candidates file")
        _check_file(args.qrels, "qrels file")
    elif args.qrels is not None:
        raise ConfigError("--qrels is only used with --source rankgpt")
    if kind == "tevatron":
        if value != "hf":
            _check_file(Path(value), "Tevatron file")
        if not 1 <= args.positives_per_group < args.group_size:
            raise ConfigError(
                f"--positives-per-group must be in [1, group size), got {args.positives_per_group}"
            )
        if args.limit is not None and args.limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {args.limit}")
        if args.allow_no_negative:
            raise ConfigError(
                "--allow-no-negative does not apply to tevatron (groups are positives + negatives)"
            )
    else:
        for flag in ("limit", "hf_dataset", "hf_revision"):
            if getattr(args, flag) is not None:
                raise ConfigError(f"--{flag.replace('_', '-')} is only used with --source tevatron")
    if kind != "benchmark":
        for flag in ("data_dir", "run"):
            if getattr(args, flag) is not None:
                raise ConfigError(f"--{flag.replace('_', '-')} is only used with --source benchmark")
    elif args.run is not None:
        _check_file(args.run, "first-stage run")
    RowsConfig(
        args.paradigm,
        args.group_size,
        args.top_n,
        args.groups_per_query,
        not args.allow_no_negative,
        args.rel_threshold,
        args.seed,
        args.max_prompt_tokens,
        args.max_passage_tokens,
        args.max_passage_chars,
        args.template,
    ).validate(has_tokenizer=args.tokenizer is not None)
    if args.num_proc < 1:
        raise ConfigError(f"--num-proc must be >= 1, got {args.num_proc}")
    if args.out.exists() and not args.overwrite:
        raise RankrlError(f"output folder {args.out} already exists; pass --overwrite to replace it")
    from rankrl.data.rows import check_replaceable

    check_replaceable(args.out)
    check_creatable(args.out, "--out")  # before any data is read: a bad path must not cost the whole build


def _build(args: argparse.Namespace, tokenizer: Any):
    from rankrl.data import rows

    kind, value = args.source
    common = {
        "group_size": args.group_size,
        "top_n": args.top_n,
        "groups_per_query": args.groups_per_query,
        "seed": args.seed,
        "tokenizer": tokenizer,
        "max_prompt_tokens": args.max_prompt_tokens,
        "max_passage_tokens": args.max_passage_tokens,
        "max_passage_chars": args.max_passage_chars,
        "template": args.template,
        "show_progress": not args.no_progress,
        "num_proc": args.num_proc,
        "as_dataset": True,  # straight to Arrow, a chunk at a time: the text is held once, not as Python objects
    }
    if kind == "tevatron":
        if value == "hf":
            from rankrl.data.tevatron import HF_DATASET, HF_REVISION, iter_tevatron_hf

            name, revision = args.hf_dataset or HF_DATASET, args.hf_revision or HF_REVISION
            examples = iter_tevatron_hf(name, args.hf_split, revision)
            result = rows.rows_from_tevatron(
                examples,
                args.paradigm,
                positives_per_group=args.positives_per_group,
                limit=args.limit,
                **common,
            )
            result.stats["source"].update(
                {"hf_dataset": name, "hf_split": args.hf_split, "hf_revision": revision}
            )
            return result
        return rows.rows_from_tevatron(
            Path(value),
            args.paradigm,
            positives_per_group=args.positives_per_group,
            limit=args.limit,
            **common,
        )
    extra = {"require_negative": not args.allow_no_negative, "rel_threshold": args.rel_threshold}
    if kind == "rankgpt":
        return rows.rows_from_rankgpt(Path(value), args.qrels, args.paradigm, **extra, **common)
    from rankrl.data.benchmarks import load_benchmark

    options = {"run": str(args.run)} if args.run is not None else {}
    benchmark = load_benchmark(value, data_dir=args.data_dir, **options)
    return rows.rows_from_benchmark(benchmark, args.paradigm, **extra, **common)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def stats_table(stats: dict[str, Any]) -> str:
    """The build summary as a Markdown table."""
    groups, rows = stats["groups"], stats["rows"]
    lines = ["| statistic | value |", "|---|---|"]
    lines.append(f"| queries read | {stats['queries']} |")
    lines.append(f"| queries used | {stats['queries_used']} |")
    for reason, count in stats["skipped"].items():
        lines.append(f"| skipped: {SKIP_REASONS.get(reason, reason)} | {count} |")
    lines.append(f"| groups | {groups} |")
    lines.append(f"| rows | {rows} |")
    lines.append(
        f"| groups whose rewards cannot differ | {stats['degenerate_groups']} "
        f"({100 * stats['degenerate_group_fraction']:.1f}%) |"
    )
    lines.append(f"| relevant share of shown passages | {100 * stats['relevant_fraction_shown']:.1f}% |")
    lines.append(f"| unjudged share of shown passages | {100 * stats['unjudged_fraction_shown']:.1f}% |")
    lines.append(f"| truncated prompts | {stats['truncated_rows']} ({100 * stats['truncation_rate']:.1f}%) |")
    length = stats["prompt_length"]
    if "p50" in length:
        values = " / ".join(_fmt(length[k]) for k in ("p50", "p90", "p99", "max"))
        lines.append(f"| prompt {length['unit']} p50 / p90 / p99 / max | {values} |")
    return "\n".join(lines)


def build(argv: list[str]) -> int:
    args = _parser().parse_args(["build", *argv])
    _validate(args)
    tokenizer = _load_tokenizer(args.tokenizer) if args.tokenizer is not None else None
    if args.no_progress:
        import datasets

        datasets.disable_progress_bars()
    from rankrl.data.rows import save_rows

    result = _build(args, tokenizer)
    if not result.stats["rows"]:
        why = ", ".join(f"{SKIP_REASONS.get(k, k)}: {v}" for k, v in result.stats["skipped"].items())
        raise RankrlError(
            f"no training rows were built: every query was skipped ({why or 'no queries in the source'})"
        )
    dataset = result.dataset
    info = {
        "command": ["rankrl", "data", "build", *argv],
        "tokenizer": str(args.tokenizer) if args.tokenizer else None,
        "versions": {
            "python": platform.python_version(),
            **{pkg: _version(pkg) for pkg in ("rankrl", "datasets", "bm25s", "transformers")},
        },
        "columns": list(dataset.column_names),
        "stats": result.stats,  # source, config, paradigm metadata, counts (read back by `rankrl train`)
    }
    out = save_rows(dataset, args.out, info, overwrite=args.overwrite)
    print(stats_table(result.stats))
    print(f"\nwrote {len(dataset)} rows to {out} (build details in {out / 'build.json'})")
    return 0


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str]) -> int:
    parser = _parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    if argv[0] == "build":
        return build(argv[1:])
    print(f"rankrl data: unknown command {argv[0]!r}; valid commands: build", file=sys.stderr)
    return 2
