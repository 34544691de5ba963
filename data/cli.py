"""``rankrl data build``: turn a data source into training rows saved as a Hugging Face dataset.

The flags are the fields of ``data.sources.RowsSource`` — the same names as in a ``rankrl train`` recipe
(``--group-size`` or ``--group_size``) — plus where to write (``DataBuildConfig``). Everything the user can get
wrong (source, files, paradigm, sizes, output folder, tokenizer) is checked before the output folder is created;
the dataset is written into a temporary sibling and renamed into place.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import typing
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from rankrl.core.atomic import check_creatable
from rankrl.core.errors import RankrlError
from rankrl.core.fields import FieldError, fields_as_flags, flag_names, from_namespace
from rankrl.data.sources import RowsSource, build_rows

SKIP_REASONS = {
    "not_judged": "query not in the qrels",
    "no_candidates": "no first-stage candidates",
    "no_relevant_in_top_n": "no relevant passage in the top N",
    "no_non_relevant_in_top_n": "no non-relevant passage in the top N",
    "too_few_candidates": "fewer candidates than the group size",
    "too_few_negatives": "too few negatives to fill a group",
}


@dataclass
class DataBuildConfig:
    """``rankrl data build``: a ``RowsSource`` (the fields ``rankrl train`` recipes use) plus where to write."""

    source: RowsSource
    out: Path = field(metadata={"help": "output folder (must not exist unless overwrite)"})
    tokenizer: str | None = field(default=None, metadata={"help": "tokenizer folder or Hub model id: token "
                                                                  "budgets and counts"})
    num_proc: int = field(default=1, metadata={"help": "processes rendering/token-counting prompts"})
    overwrite: bool = field(default=False, metadata={"help": "replace out if it exists"})
    no_progress: bool = field(default=False, metadata={"help": "hide progress bars"})


_BUILD_FIELDS = ("out", "tokenizer", "num_proc", "overwrite", "no_progress")


def _add_field(group: Any, f: Any, hints: dict[str, Any]) -> None:
    """One flag per dataclass field, spelt ``--field-name`` and ``--field_name`` (as ``rankrl train`` accepts).
    ``hints``: the class's resolved annotations (``Field.type`` may be a string, or a type once TRL's parser has
    resolved it on the shared field objects)."""
    names = [f"--{f.name.replace('_', '-')}"] + ([f"--{f.name}"] if "_" in f.name else [])
    kwargs: dict[str, Any] = {"dest": f.name, "help": f.metadata.get("help")}
    hint = hints[f.name]
    if hint is bool:
        kwargs["action"] = "store_true"
    else:
        kwargs["type"] = int if int in (hint, *typing.get_args(hint)) else str
        kwargs["default"] = f.default
        if kwargs["default"] is not None and "default" not in (kwargs["help"] or ""):
            kwargs["help"] = f"{kwargs['help']} (default: {f.default})"
    group.add_argument(*names, **kwargs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rankrl data", description="Build and inspect training rows.",
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = sub.add_parser(
        "build",
        help="build training rows from a data source",
        allow_abbrev=False,
        description=(
            "Build GRPO training rows (prompt, qid, docids, relevance, paradigm, group) and save them with "
            "datasets.save_to_disk. The source flags are the fields of a `rankrl train` recipe, with the same "
            "names (--data-source benchmark:trec-dl-2019, synthetic, tevatron:FILE, tevatron:hf, rankgpt:FILE "
            "with --rankgpt-qrels)."
        ),
    )
    source = build.add_argument_group("source, groups and prompts (the same fields as a train recipe)")
    for f in fields(RowsSource):
        _add_field(source, f, typing.get_type_hints(RowsSource))
    output = build.add_argument_group("output")
    by_name = {f.name: f for f in fields(DataBuildConfig)}
    hints = typing.get_type_hints(DataBuildConfig)
    for name in _BUILD_FIELDS:
        _add_field(output, by_name[name], hints)
    for action in build._actions:
        if action.dest in ("data_source", "out"):
            action.required = True
    return parser


def config_from_args(args: argparse.Namespace) -> DataBuildConfig:
    """Flags -> ``DataBuildConfig``, field by field."""
    values = vars(args)
    return DataBuildConfig(
        source=from_namespace(RowsSource, args), out=Path(values["out"]), tokenizer=values["tokenizer"],
        num_proc=values["num_proc"], overwrite=values["overwrite"], no_progress=values["no_progress"])


def _load_tokenizer(name: str) -> Any:
    """A local tokenizer folder, or a Hub model id such as ``Qwen/Qwen3-4B`` (cached, or downloaded)."""
    path = Path(name)
    hub_id = not path.exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", name) is not None
    if not path.is_dir() and not hub_id:
        raise FieldError("tokenizer", template=f"tokenizer folder not found: {name} ({{field}}: a folder saved "
                                               f"with save_pretrained or a Hub model id)")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=not hub_id)
    except Exception as err:  # any load failure is a problem with the user's folder or id
        raise RankrlError(f"cannot load a tokenizer from {name}: {err}") from err


def validate(config: DataBuildConfig) -> None:
    """Checks that need no data loading; run before anything is read or written. Errors name fields."""
    from rankrl.data.rows import check_replaceable

    config.source.check(check_paths=True, has_tokenizer=config.tokenizer is not None)
    if config.num_proc < 1:
        raise FieldError("num_proc", f"must be >= 1, got {config.num_proc}")
    if config.out.exists() and not config.overwrite:
        raise FieldError("overwrite", template=f"output folder {config.out} already exists; pass {{field}} to "
                                               f"replace it, or choose another output folder")
    check_replaceable(config.out)
    check_creatable(config.out, "out")  # before any data is read: a bad path must not cost the whole build


def run_build(config: DataBuildConfig, command: list[str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Build the rows of ``config.source`` and save them to ``config.out`` (atomically); the folder and the build
    statistics."""
    validate(config)
    tokenizer = _load_tokenizer(config.tokenizer) if config.tokenizer is not None else None
    if config.no_progress:
        import datasets

        datasets.disable_progress_bars()
    from rankrl.data.rows import save_rows

    result = build_rows(config.source, tokenizer=tokenizer, show_progress=not config.no_progress,
                        num_proc=config.num_proc, as_dataset=True)
    if not result.stats["rows"]:
        why = ", ".join(f"{SKIP_REASONS.get(k, k)}: {v}" for k, v in result.stats["skipped"].items())
        raise RankrlError(
            f"no training rows were built: every query was skipped ({why or 'no queries in the source'})"
        )
    dataset = result.dataset
    info = {
        "command": command or ["rankrl.data.cli.run_build"],
        "tokenizer": config.tokenizer,
        "versions": {
            "python": platform.python_version(),
            **{pkg: _version(pkg) for pkg in ("rankrl", "datasets", "bm25s", "transformers")},
        },
        "columns": list(dataset.column_names),
        "stats": result.stats,  # source, config, paradigm metadata, counts (read back by `rankrl train`)
    }
    return save_rows(dataset, config.out, info, overwrite=config.overwrite), result.stats


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
    parser = _parser()
    args = parser.parse_args(["build", *argv])
    build_parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["build"]
    with fields_as_flags(flag_names(build_parser)):
        out, stats = run_build(config_from_args(args), ["rankrl", "data", "build", *argv])
    print(stats_table(stats))
    print(f"\nwrote {stats['rows']} rows to {out} (build details in {out / 'build.json'})")
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
