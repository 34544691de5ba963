"""``rankrl prompts``: list the shipped templates and presets, and print exactly the prompt a model receives.

``rankrl prompts list`` shows every template and preset with its paradigm, layout, scoring protocol and, for a
published preset, where it comes from (repository@commit:file).

``rankrl prompts render --template NAME|PATH --query TEXT --passages FILE.jsonl [--tokenizer DIR]`` writes to
stdout, byte for byte, the string the model receives: the tokenizer's chat template applied to the messages with
the generation prompt (plus any prefill), or the raw text of a raw template. Nothing is added, not even a final
newline, so the output can be diffed against what a published codebase builds. ``--messages`` prints the
messages as JSON instead (no tokenizer needed). Passages are JSONL lines ``{"docid", "text", "title"?}``; the
template's published truncation defaults apply (token budgets need ``--tokenizer``) and the flags override them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rankrl.core.errors import ConfigError, DataFormatError, RankrlError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rankrl prompts", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list templates and published presets", allow_abbrev=False)
    ls.add_argument("--json", action="store_true", help="one JSON object per template (with defaults and source)")
    r = sub.add_parser("render", help="print the exact prompt string for a query and passages", allow_abbrev=False)
    r.add_argument("--template", required=True, help="template or preset name, or a path to a template JSON file")
    r.add_argument("--paradigm", help="check that the template is for this paradigm")
    r.add_argument("--tokenizer", help="folder with a Hugging Face tokenizer (its chat template renders chat "
                                       "prompts; token budgets are counted with it)")
    r.add_argument("--query", required=True, help="the query text")
    r.add_argument("--passages", required=True, help='JSONL file, one {"docid", "text", "title"?} per line')
    r.add_argument("--docid", help="pointwise templates show one passage: the docid to render (default: the "
                                   "only passage of the file)")
    r.add_argument("--messages", action="store_true", help="print the messages as JSON instead of the string")
    r.add_argument("--chat-template-kwargs", help='JSON object for the chat template, e.g. \'{"enable_thinking": '
                                                  'false}\'')
    for flag in ("--max-query-tokens", "--max-passage-tokens", "--max-passage-chars", "--max-passage-words",
                 "--max-prompt-tokens"):
        r.add_argument(flag, type=int, help="override the template's published default")
    return p


def read_passages(path: str) -> list[dict[str, str]]:
    """``{"docid", "text", "title"?}`` per line; errors name the file and line."""
    file = Path(path)
    if not file.is_file():
        raise RankrlError(f"--passages {file} does not exist")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFormatError(file, number, f"not valid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise DataFormatError(file, number, "a passage must be a JSON object")
            unknown = sorted(set(record) - {"docid", "text", "title"})
            if unknown:
                raise DataFormatError(file, number, f"unknown field(s) {unknown}; allowed: docid, text, title")
            for key in ("docid", "text"):
                if not isinstance(record.get(key), str):
                    raise DataFormatError(file, number, f"field {key!r} must be a string")
            if not isinstance(record.get("title", ""), str):
                raise DataFormatError(file, number, "field 'title' must be a string")
            if record["docid"] in seen:
                raise DataFormatError(file, number, f"docid {record['docid']!r} appears twice")
            seen.add(record["docid"])
            out.append({"docid": record["docid"], "text": record["text"], "title": record.get("title", "")})
    if not out:
        raise DataFormatError(file, None, "no passages")
    return out


def _list(as_json: bool) -> int:
    from rankrl.prompts.template import available_presets, available_templates, read_template

    rows = [("template", n) for n in available_templates()] + [("preset", n) for n in available_presets()]
    if as_json:
        for kind, name in rows:
            t = read_template(name)
            print(json.dumps({"name": name, "kind": kind, "paradigm": t.paradigm, "version": t.version,
                              "layout": t.layout, "scoring": t.scoring, "prefill": t.prefill,
                              "defaults": t.defaults.given(), "source": t.to_dict().get("source", {}),
                              "description": t.description}, ensure_ascii=False))
        return 0
    table = [("name", "kind", "paradigm", "layout", "scoring", "source")]
    for kind, name in rows:
        t = read_template(name)
        table.append((name, kind, t.paradigm, t.layout + (" +prefill" if t.prefill else ""), t.scoring,
                      t.source.citation() or "rankrl"))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    return 0


def _render(args: argparse.Namespace) -> int:
    from rankrl.prompts import get_paradigm
    from rankrl.prompts.fit import fit_messages
    from rankrl.prompts.render import prompt_text
    from rankrl.prompts.template import read_template

    template = read_template(args.template)
    if args.paradigm and args.paradigm != template.paradigm:
        raise ConfigError(f"--template {template.name} is for paradigm {template.paradigm!r}, not "
                          f"--paradigm {args.paradigm!r}")
    kwargs: dict[str, Any] = {}
    if args.chat_template_kwargs:
        try:
            kwargs = json.loads(args.chat_template_kwargs)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--chat-template-kwargs is not valid JSON ({err})") from err
        if not isinstance(kwargs, dict):
            raise ConfigError("--chat-template-kwargs must be a JSON object")
    for name in ("max_query_tokens", "max_passage_tokens", "max_passage_chars", "max_passage_words",
                 "max_prompt_tokens"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    defaults = template.defaults
    paradigm = get_paradigm(template.paradigm, template=template,
                            max_passage_chars=args.max_passage_chars or defaults.max_passage_chars,
                            max_passage_tokens=args.max_passage_tokens or defaults.max_passage_tokens,
                            max_prompt_tokens=args.max_prompt_tokens or defaults.max_prompt_tokens)
    passages = read_passages(args.passages)
    if paradigm.one_passage_per_prompt:
        if args.docid is not None:
            chosen = [p for p in passages if p["docid"] == args.docid]
            if not chosen:
                raise ConfigError(f"--docid {args.docid!r} is not in {args.passages}")
            passages = chosen
        elif len(passages) != 1:
            raise ConfigError(f"{template.name} shows one passage per prompt and {args.passages} holds "
                              f"{len(passages)}; choose one with --docid")
    elif args.docid is not None:
        raise ConfigError(f"--docid applies to templates that show one passage; {template.name} shows all")
    tokenizer = None
    if args.tokenizer:
        folder = Path(args.tokenizer)
        if not folder.is_dir():
            raise ConfigError(f"--tokenizer {folder} is not a folder")
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as err:
            raise ConfigError(f"--tokenizer {folder}: cannot load a tokenizer ({err})") from err
    fitted = fit_messages(paradigm, args.query, passages, tokenizer=tokenizer,
                          max_passage_words=args.max_passage_words, max_query_tokens=args.max_query_tokens)
    if args.messages:
        sys.stdout.write(json.dumps(fitted.messages, ensure_ascii=False, indent=2) + "\n")
        return 0
    sys.stdout.write(prompt_text(fitted.messages, tokenizer, kwargs))
    sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return _list(args.json)
    return _render(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
