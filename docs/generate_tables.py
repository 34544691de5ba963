"""Write the field tables in ``docs/*.md`` from the configuration dataclasses' ``metadata={"help": ...}``.

Why: a field's help text is what ``--help`` prints; generating the docs' tables from it keeps one description
per field instead of a hand-written copy that drifts. A table sits between two marker comments in a page::

    <!-- BEGIN GENERATED fields rankrl.rl.config:ScriptArguments -->
    ...
    <!-- END GENERATED fields rankrl.rl.config:ScriptArguments -->

The BEGIN marker may add ``flags=module:function``, a function returning the ``argparse`` parser whose option
strings are shown in a "flag" column (for dataclasses whose fields are CLI flags with other spellings).
Everything else in the page is left alone. Only the named modules are imported; the configuration modules
keep torch, TRL and transformers out of their imports, so this runs in about a second.

    python docs/generate_tables.py            # rewrite stale tables in place
    python docs/generate_tables.py --check    # exit 1 and name the stale tables, change nothing
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import re
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankrl.core.atomic import atomic_write_text
from rankrl.core.fields import declared_type

DOCS = Path(__file__).resolve().parent
REGENERATE = "python docs/generate_tables.py"

_BEGIN = re.compile(
    r"^<!-- BEGIN GENERATED fields (?P<target>[\w.]+:\w+)(?: flags=(?P<flags>[\w.]+:\w+))? -->$"
)
_END = "<!-- END GENERATED fields {target} -->"


class TableError(Exception):
    """A marker pair or a dataclass that cannot give a table (named with the page and line)."""


@dataclass(frozen=True)
class Table:
    """One generated table in one page: where it is, what it shows, its current and its generated text."""

    page: Path
    line: int  # 1-based line of the BEGIN marker
    target: str
    current: str
    generated: str

    @property
    def stale(self) -> bool:
        return self.current != self.generated


def _load(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _cell(text: str) -> str:
    """Markdown-safe cell: ``|`` escaped; ``<``, ``>`` escaped outside code spans (``<think>`` stays text)."""
    parts = text.replace("\n", " ").split("`")
    for i in range(0, len(parts), 2):  # even parts are outside backticks
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def _type_name(tp: Any) -> str:
    if isinstance(tp, str):
        return tp
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "(required)"
    if value is None:
        return "–"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{value!r}`"


def _flags(parser_factory: Callable[[], argparse.ArgumentParser] | None) -> dict[str, str]:
    if parser_factory is None:
        return {}
    flags: dict[str, str] = {}
    parsers = [parser_factory()]
    while parsers:  # the parser and its subcommands' parsers (``rankrl data build``)
        for action in parsers.pop(0)._actions:  # argparse has no public accessor for its actions
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings and action.dest not in flags:  # first long spelling, as in --help
                longs = [o for o in action.option_strings if o.startswith("--")] or action.option_strings
                flags[action.dest] = f"`{longs[0]}`"
    return flags


def _nested(cls: type) -> dict[str, str]:
    """Fields whose type is a dataclass (``DataBuildConfig.source: RowsSource``): name -> class name."""
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation that cannot be resolved: no nesting to report
        return {}
    return {name: tp.__name__ for name, tp in hints.items()
            if isinstance(tp, type) and dataclasses.is_dataclass(tp)}


def render(cls: type, parser_factory: Callable[[], argparse.ArgumentParser] | None = None) -> str:
    """The Markdown table of ``cls``'s fields, in declaration order; every field must have a help text.

    Fields inherited from a dataclass base (``ScriptArguments(RowsSource)``) are one row pointing to the
    base's own table, so each field is described in one place."""
    if not dataclasses.is_dataclass(cls):
        raise TableError(f"{cls.__module__}.{cls.__qualname__} is not a dataclass")
    flags = _flags(parser_factory)
    nested = _nested(cls)
    bases = [b for b in cls.__mro__[1:] if dataclasses.is_dataclass(b)]
    inherited = {f.name for b in bases for f in dataclasses.fields(b)}
    own = [f for f in dataclasses.fields(cls) if f.name not in inherited]
    missing = [f.name for f in own if not f.metadata.get("help") and f.name not in nested]
    if missing:
        name = f"{cls.__module__}.{cls.__qualname__}"
        raise TableError(f"{name}: no metadata help for field(s) {', '.join(missing)}")
    head = ["field", "type", "default", "meaning"]
    if flags:
        head.insert(1, "flag")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for base in bases[:1]:  # the nearest dataclass base holds every inherited field
        name = base.__name__
        row = ["(inherited)", f"`{name}`", "", f"every field of `{name}`, described in its own table"]
        if flags:
            row.insert(1, "")
        lines.append("| " + " | ".join(row) + " |")
    for f in own:
        if f.name in nested:  # a dataclass inside: its own table documents its fields
            meaning = f.metadata.get("help") or f"the fields of `{nested[f.name]}` (its own table)"
        else:
            meaning = f.metadata["help"]
        row = [f"`{f.name}`", f"`{_cell(_type_name(declared_type(cls, f.name)))}`", _cell(_default(f)), _cell(meaning)]
        if flags:
            row.insert(1, flags.get(f.name, "(library only)"))
        lines.append("| " + " | ".join(row) + " |")
    return "\n" + "\n".join(lines) + "\n\n"  # blank lines around: the table is its own block


def tables(page: Path) -> list[Table]:
    """Every generated table in ``page``, with its current and freshly generated text."""
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    found: list[Table] = []
    i = 0
    while i < len(lines):
        match = _BEGIN.match(lines[i].rstrip("\n"))
        if match is None:
            if lines[i].startswith("<!-- BEGIN GENERATED"):
                raise TableError(f"{page}:{i + 1}: malformed marker; expected "
                                 "'<!-- BEGIN GENERATED fields module:Class [flags=module:function] -->'")
            i += 1
            continue
        target = match["target"]
        end = _END.format(target=target)
        try:
            j = next(k for k in range(i + 1, len(lines)) if lines[k].rstrip("\n") == end)
        except StopIteration:
            raise TableError(f"{page}:{i + 1}: no closing '{end}'") from None
        try:
            cls = _load(target)
            parser_factory = _load(match["flags"]) if match["flags"] else None
        except (ImportError, AttributeError) as err:
            raise TableError(f"{page}:{i + 1}: cannot load {target}: {err}") from err
        try:
            generated = render(cls, parser_factory)
        except TableError as err:
            raise TableError(f"{page}:{i + 1}: {err}") from err
        found.append(Table(page, i + 1, target, "".join(lines[i + 1:j]), generated))
        i = j + 1
    return found


def pages(docs: Path = DOCS) -> list[Path]:
    return sorted(docs.glob("*.md"))


def regenerate(page: Path) -> list[Table]:
    """Rewrite the stale tables of ``page`` in place; returns the tables that were stale."""
    stale = [t for t in tables(page) if t.stale]
    if not stale:
        return []
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    for t in sorted(stale, key=lambda t: t.line, reverse=True):  # bottom-up keeps earlier line numbers valid
        begin = t.line - 1
        end = begin + 1 + len(t.current.splitlines())
        lines[begin + 1:end] = [t.generated]
    atomic_write_text(page, "".join(lines))  # a page is replaced whole or not at all
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="generate_tables.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale tables (exit 1), change nothing")
    parser.add_argument("--docs", type=Path, default=DOCS, help="folder of the pages (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = [t for p in pages(args.docs) for t in tables(p) if t.stale]
            for t in stale:
                print(f"{t.page}:{t.line}: table of {t.target} is stale; run: {REGENERATE}", file=sys.stderr)
            return 1 if stale else 0
        for p in pages(args.docs):
            for t in regenerate(p):
                print(f"{t.page}:{t.line}: regenerated the table of {t.target}")
    except TableError as err:
        print(f"generate_tables.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
