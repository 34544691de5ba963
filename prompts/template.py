"""Prompt templates are data: one JSON file per template, named, versioned and loaded strictly.

rankrl's own templates live in ``prompts/templates/``; published systems ship as presets in ``prompts/presets/``
(``rank-r1``, ``rank1``, ``rearank``, …), each with its provenance and the inference settings it was published
with. Both load by name (``load_template("setwise", "rank-r1")``) or from a path.

A template file holds (unknown fields, also inside the nested objects, are errors that name the field):

* ``name``, ``version``, ``paradigm``, ``description``.
* ``layout`` — how the prompt is laid out:
  ``system+user`` (default; ``system`` and ``user``), ``user`` (only ``user``: no system message at all, which
  changes what a chat template produces), ``multi-turn`` (``turns``: a list of ``{"role", "content"}`` messages
  and one ``{"each_passage": [messages]}`` entry repeated per passage, RankGPT style), or ``raw`` (``text``: the
  whole prompt, sent without any chat template).
* ``prefill`` — text the assistant's turn starts with (e.g. ``<think>``): the prompt string is the chat
  template's generation prompt (or the raw text) followed by exactly this text.
* ``answer_format``; ``scale`` (pointwise: ``graded`` 0–10 or ``binary`` true/false); ``answer_fallback``
  (read the answer after ``</think>`` when there is no ``<answer>`` block: Rank1 answers ``</think> true``).
* ``passages`` — how passages are written (``prompts.passages.PassageFormat``): ``label`` (``[{i}]``,
  ``[{i}].``, ``[{i}]:``), ``entry`` (one passage, e.g. ``{label} {text}``), ``separator`` between entries,
  ``title`` (``{title} {text}`` or ``{title}: {text}``), ``whitespace`` (keep, strip, collapse, newlines),
  ``neutralise`` (``labels-and-tags``, ``labels``, ``none``) and ``cut`` (``word`` or ``exact`` character cuts,
  ``tokens`` cut with ``tokenize``/``convert_tokens_to_string`` as llm-rankers and ReasonRank do).
* ``query`` — ``{"neutralise": ...}`` for the query text.
* ``scoring`` — how a score is read: ``parse`` (the answer text), ``true-false`` (Rank1: p(true)/(p(true)+p(false))
  after ``</think>``, forced when missing), ``first-token`` (FIRST: order a window by the logits of the first
  generated identifier), ``score-probability`` (ERank: s · p(s) at the score token), ``expected-score``
  (Σ v·p(v) over the score tokens). ``judge`` gives the tokens of ``true-false``.
* ``defaults`` — published inference settings (``TemplateDefaults``); evaluation flags override them.
* ``source`` — provenance: ``repository``, ``commit``, ``files``, ``notes``, ``not_public``.

Placeholders: ``{query}``, ``{passages}``, ``{num_passages}``, ``{answer_format}`` in every text; ``{label}``,
``{i}``, ``{text}`` in ``each_passage`` messages. Substitution is one pass, so braces inside a query or a passage
are never expanded. The content hash goes into ``rankrl.json`` so an edited file is noticed; fields left at their
defaults are not hashed, so the hashes of templates written before these fields existed did not change.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.prompts.passages import (
    PassageFormat,
    QueryFormat,
    passage_format_from_dict,
    query_format_from_dict,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PRESET_DIR = Path(__file__).resolve().parent / "presets"
_PLACEHOLDER = re.compile(r"\{(query|passages|num_passages|answer_format|label|i|text)\}")
SCALES = ("graded", "binary")
LAYOUTS = ("system+user", "user", "multi-turn", "raw")
SCORINGS = ("parse", "true-false", "first-token", "score-probability", "expected-score")
RAW_ROLE = "raw"
"""A raw-text prompt travels as one message with this role (see ``prompts.render``)."""
PREFILL_ROLE = "assistant"

_TOP_FIELDS = ("name", "version", "paradigm", "description", "layout", "system", "user", "turns", "text",
               "prefill", "answer_format", "scale", "answer_fallback", "passages", "query", "scoring", "judge",
               "defaults", "source")


@dataclass(frozen=True)
class Judge:
    """The tokens of the ``true-false`` protocol (Rank1): the closing tag that is forced when missing, and the
    two answers whose first tokens are compared right after it."""

    close: str = "</think>"
    true: str = " true"
    false: str = " false"


@dataclass(frozen=True)
class TemplateDefaults:
    """Published inference settings a preset depends on; every one is also an evaluation flag that overrides it.
    None: not part of the published setup (rankrl's default applies)."""

    strategy: str | None = None
    sort: str | None = None
    num_child: int | None = None
    k: int | None = None
    shuffle_comparisons: bool | None = None
    permutations: int | None = None
    window: int | None = None
    stride: int | None = None
    passes: int | None = None
    group_size: int | None = None
    repeats: int | None = None
    merge: str | None = None
    fusion: str | None = None
    fusion_weight: float | None = None
    top_k: int | None = None
    max_query_tokens: int | None = None
    max_passage_tokens: int | None = None
    max_passage_chars: int | None = None
    max_passage_words: int | None = None
    max_prompt_tokens: int | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    logprobs: int | None = None

    def given(self) -> dict[str, Any]:
        """The settings the preset fixes (not None)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Source:
    """Where a preset comes from (repository@commit:file) and what could not be checked."""

    repository: str = ""
    commit: str = ""
    files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    not_public: tuple[str, ...] = ()

    def citation(self) -> str:
        files = ", ".join(self.files)
        return f"{self.repository}@{self.commit[:7]}:{files}" if self.repository else ""


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    paradigm: str
    system: str = ""
    user: str = ""
    answer_format: str = ""
    scale: str | None = None
    description: str = ""
    layout: str = "system+user"
    turns: tuple[dict[str, Any], ...] = ()
    text: str = ""
    prefill: str = ""
    answer_fallback: bool = False
    passages: PassageFormat = field(default_factory=PassageFormat)
    query: QueryFormat = field(default_factory=QueryFormat)
    scoring: str = "parse"
    judge: Judge = field(default_factory=Judge)
    defaults: TemplateDefaults = field(default_factory=TemplateDefaults)
    source: Source = field(default_factory=Source)

    # -- rendering ----------------------------------------------------------------------------------------
    def render(self, query: str, passages_block: str, num_passages: int,
               entries: list[tuple[str, str]] | None = None) -> list[dict[str, str]]:
        """The prompt as messages, placeholders filled in one pass.

        ``entries`` (label, text) per passage feed ``each_passage`` turns of a multi-turn layout. A raw layout is
        one ``{"role": "raw"}`` message; a prefill is a final assistant message (``prompts.render`` turns both
        into the exact prompt string)."""
        values = {"query": query, "passages": passages_block, "num_passages": str(num_passages),
                  "answer_format": self.answer_format}

        def fill(text: str, extra: dict[str, str] | None = None) -> str:
            table = values if extra is None else {**values, **extra}
            return _PLACEHOLDER.sub(lambda m: table.get(m.group(1), m.group(0)), text)

        if self.layout == "raw":
            messages = [{"role": RAW_ROLE, "content": fill(self.text)}]
        elif self.layout == "user":
            messages = [{"role": "user", "content": fill(self.user)}]
        elif self.layout == "multi-turn":
            messages = []
            for turn in self.turns:
                if "each_passage" in turn:
                    for i, (label, text) in enumerate(entries or [], start=1):
                        extra = {"label": label, "i": str(i), "text": text}
                        messages.extend({"role": m["role"], "content": fill(m["content"], extra)}
                                        for m in turn["each_passage"])
                else:
                    messages.append({"role": turn["role"], "content": fill(turn["content"])})
        else:
            messages = [{"role": "system", "content": fill(self.system)},
                        {"role": "user", "content": fill(self.user)}]
        if self.prefill:
            messages.append({"role": PREFILL_ROLE, "content": self.prefill})
        return messages

    @property
    def think_prefilled(self) -> bool:
        """The prompt ends inside an opened ``<think>`` block (the completion starts with the reasoning)."""
        return self.prefill.rstrip().endswith("<think>")

    # -- identity -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The template as its JSON file would hold it; fields at their defaults are left out."""
        out: dict[str, Any] = {"name": self.name, "version": self.version, "paradigm": self.paradigm,
                               "system": self.system, "user": self.user, "answer_format": self.answer_format}
        if self.scale is not None:
            out["scale"] = self.scale
        out["description"] = self.description
        simple = {"layout": (self.layout, "system+user"), "text": (self.text, ""), "prefill": (self.prefill, ""),
                  "answer_fallback": (self.answer_fallback, False), "scoring": (self.scoring, "parse")}
        for key, (value, default) in simple.items():
            if value != default:
                out[key] = value
        if self.turns:
            out["turns"] = [dict(t) for t in self.turns]
        for key, value, default in (("passages", self.passages, PassageFormat()),
                                    ("query", self.query, QueryFormat()), ("judge", self.judge, Judge()),
                                    ("defaults", self.defaults, TemplateDefaults()),
                                    ("source", self.source, Source())):
            if value != default:
                out[key] = _dataclass_dict(value, default)
        return out

    @property
    def sha256(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()

    @property
    def is_preset(self) -> bool:
        return bool(self.source.repository)


def _dataclass_dict(value: Any, default: Any) -> dict[str, Any]:
    """Non-default fields of a small frozen dataclass, tuples as lists (JSON)."""
    out = {}
    for f in fields(value):
        v = getattr(value, f.name)
        if v != getattr(default, f.name):
            out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


# --- strict loading ------------------------------------------------------------------------------------------

def _fail(source: str, message: str) -> DataFormatError:
    return DataFormatError(source, None, message)


def _check_keys(raw: dict[str, Any], allowed: tuple[str, ...], source: str, where: str) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise _fail(source, f"unknown {where} field(s) {unknown}; allowed: {list(allowed)}")


def _string(raw: dict[str, Any], key: str, source: str, where: str = "template") -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise _fail(source, f"{where} field {key!r} must be a string")
    return value


def _small_dataclass(cls: type, raw: Any, source: str, where: str) -> Any:
    """A flat dataclass from a mapping: unknown keys, and values of the wrong type, are errors naming the field."""
    if not isinstance(raw, dict):
        raise _fail(source, f"template field {where!r} must be a JSON object")
    names = tuple(f.name for f in fields(cls))
    _check_keys(raw, names, source, f"{where!r}")
    values: dict[str, Any] = {}
    defaults = cls()
    for key, value in raw.items():
        default = getattr(defaults, key)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _fail(source, f"{where}.{key} must be a list of strings")
            value = tuple(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise _fail(source, f"{where}.{key} must be a string")
        values[key] = value
    return cls(**values)


_DEFAULT_TYPES: dict[str, tuple[type, ...]] = {
    "strategy": (str,), "sort": (str,), "merge": (str,), "fusion": (str,), "shuffle_comparisons": (bool,),
    "fusion_weight": (int, float), "temperature": (int, float), "top_p": (int, float),
}


def _defaults_from_dict(raw: Any, source: str) -> TemplateDefaults:
    if not isinstance(raw, dict):
        raise _fail(source, "template field 'defaults' must be a JSON object")
    names = tuple(f.name for f in fields(TemplateDefaults))
    _check_keys(raw, names, source, "'defaults'")
    values = {}
    for key, value in raw.items():
        kinds = _DEFAULT_TYPES.get(key, (int,))
        if value is None:
            continue
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            kind = " or ".join(k.__name__ for k in kinds)
            raise _fail(source, f"defaults.{key} must be {kind}, got {value!r}")
        if kinds == (int,) and value < 1:
            raise _fail(source, f"defaults.{key} must be a positive integer, got {value!r}")
        values[key] = float(value) if float in kinds and not isinstance(value, bool) else value
    return TemplateDefaults(**values)


def _turns_from_list(raw: Any, source: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(source, "template field 'turns' must be a non-empty list of messages")
    out: list[dict[str, Any]] = []
    each = 0
    for n, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise _fail(source, f"turns[{n}] must be a JSON object")
        if "each_passage" in turn:
            _check_keys(turn, ("each_passage",), source, f"turns[{n}]")
            inner = turn["each_passage"]
            if not isinstance(inner, list) or not inner:
                raise _fail(source, f"turns[{n}].each_passage must be a non-empty list of messages")
            out.append({"each_passage": [_message(m, source, f"turns[{n}].each_passage") for m in inner]})
            each += 1
        else:
            out.append(_message(turn, source, f"turns[{n}]"))
    if each > 1:
        raise _fail(source, "template field 'turns' may hold one 'each_passage' entry, not several")
    return tuple(out)


def _message(raw: Any, source: str, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise _fail(source, f"{where} must be a JSON object")
    _check_keys(raw, ("role", "content"), source, where)
    role, content = raw.get("role"), raw.get("content")
    if role not in ("system", "user", "assistant"):
        raise _fail(source, f"{where}.role must be system, user or assistant, got {role!r}")
    if not isinstance(content, str):
        raise _fail(source, f"{where}.content must be a string")
    return {"role": role, "content": content}


def template_from_dict(raw: Any, source: str) -> Template:
    """Validate a template mapping; errors name ``source`` and the offending field."""
    if not isinstance(raw, dict):
        raise _fail(source, "a template must be a JSON object")
    _check_keys(raw, _TOP_FIELDS, source, "template")
    for key in ("name", "version", "paradigm"):
        if key not in raw:
            raise _fail(source, f"template field {key!r} is missing")
    version = raw["version"]
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str):
        raise _fail(source, "template field 'version' must be a string")
    layout = raw.get("layout", "system+user")
    if layout not in LAYOUTS:
        raise _fail(source, f"template field 'layout' must be one of {list(LAYOUTS)}, got {layout!r}")
    texts = {key: _string(raw, key, source) for key in ("name", "paradigm", "description", "system", "user",
                                                        "text", "prefill", "answer_format")}
    for key in ("name", "paradigm"):
        if not texts[key].strip():
            raise _fail(source, f"template field {key!r} is empty")
    if not version.strip():
        raise _fail(source, "template field 'version' is empty")
    needs = {"system+user": ("system", "user"), "user": ("user",), "multi-turn": ("turns",), "raw": ("text",)}
    for key in needs[layout]:
        if key not in raw:
            raise _fail(source, f"template field {key!r} is missing (layout {layout!r} needs it)")
    unused = {"system+user": ("turns", "text"), "user": ("system", "turns", "text"),
              "multi-turn": ("system", "user", "text"), "raw": ("system", "user", "turns")}
    for key in unused[layout]:
        if key in raw:
            raise _fail(source, f"template field {key!r} does not apply to layout {layout!r}")
    if "answer_format" not in raw and layout == "system+user" and "passages" not in raw:
        raise _fail(source, "template field 'answer_format' is missing")
    turns = _turns_from_list(raw["turns"], source) if layout == "multi-turn" else ()
    if layout in ("system+user", "user"):
        body = texts["user"]
    elif layout == "raw":
        body = texts["text"]
    else:
        body = "\n".join(m["content"] for t in turns for m in t.get("each_passage", [t]))
    if "{query}" not in body:
        where = {"raw": "'text'", "multi-turn": "'turns'"}.get(layout, "'user'")
        raise _fail(source, f"template field {where} must contain {{query}}")
    if layout == "multi-turn":
        has_each = any("each_passage" in t for t in turns)
        if not has_each and "{passages}" not in body:
            raise _fail(source, "a multi-turn template needs {passages} or an 'each_passage' entry")
    elif "{passages}" not in body:
        field_name = "text" if layout == "raw" else "user"
        raise _fail(source, f"template field {field_name!r} must contain {{passages}}")
    scale = raw.get("scale")
    if texts["paradigm"] == "pointwise":
        scale = scale or "graded"
        if scale not in SCALES:
            raise _fail(source, f"template field 'scale' must be one of {list(SCALES)}, got {scale!r}")
    elif scale is not None:
        raise _fail(source, "template field 'scale' only applies to pointwise templates")
    answer_fallback = raw.get("answer_fallback", False)
    if not isinstance(answer_fallback, bool):
        raise _fail(source, "template field 'answer_fallback' must be true or false")
    scoring = raw.get("scoring", "parse")
    if scoring not in SCORINGS:
        raise _fail(source, f"template field 'scoring' must be one of {list(SCORINGS)}, got {scoring!r}")
    if scoring in ("true-false", "score-probability", "expected-score") and texts["paradigm"] != "pointwise":
        raise _fail(source, f"scoring {scoring!r} scores one passage: it needs a pointwise template")
    if scoring == "first-token" and texts["paradigm"] != "listwise":
        raise _fail(source, "scoring 'first-token' orders a window: it needs a listwise template")
    if scoring == "true-false" and scale != "binary":
        raise _fail(source, "scoring 'true-false' needs scale 'binary'")
    return Template(
        name=texts["name"], version=version, paradigm=texts["paradigm"], system=texts["system"],
        user=texts["user"], answer_format=texts["answer_format"], scale=scale, description=texts["description"],
        layout=layout, turns=turns, text=texts["text"], prefill=texts["prefill"], answer_fallback=answer_fallback,
        passages=passage_format_from_dict(raw.get("passages", {}), source),
        query=query_format_from_dict(raw.get("query", {}), source), scoring=scoring,
        judge=_small_dataclass(Judge, raw.get("judge", {}), source, "judge"),
        defaults=_defaults_from_dict(raw.get("defaults", {}), source),
        source=_small_dataclass(Source, raw.get("source", {}), source, "source"),
    )


# --- lookup --------------------------------------------------------------------------------------------------

def _names(folder: Path, paradigm: str | None) -> list[str]:
    names = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stem):
        if paradigm is None or path.stem == paradigm or path.stem.startswith(paradigm + "-"):
            names.append(path.stem)
    return names


def available_templates(paradigm: str | None = None) -> list[str]:
    """Names of rankrl's own shipped templates (for one paradigm when given)."""
    return _names(TEMPLATE_DIR, paradigm)


def available_presets(paradigm: str | None = None) -> list[str]:
    """Names of the published presets (for one paradigm when given, read from each file)."""
    names = []
    for name in _names(PRESET_DIR, None):
        if paradigm is None or _read_file(PRESET_DIR / f"{name}.json").paradigm == paradigm:
            names.append(name)
    return names


def shipped_path(name: str) -> Path | None:
    """The file of a shipped template or preset called ``name``, or None."""
    for folder in (TEMPLATE_DIR, PRESET_DIR):
        path = folder / f"{name}.json"
        if path.is_file():
            return path
    return None


def _read_file(path: Path) -> Template:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise RankrlError(f"{path}: cannot read template ({err})") from err
    except json.JSONDecodeError as err:
        raise DataFormatError(path, err.lineno, f"template is not valid JSON ({err.msg})") from err
    return template_from_dict(raw, str(path))


def read_template(template: str | Path | dict | Template) -> Template:
    """A template by shipped name (template or preset), path, mapping or ``Template``, whatever its paradigm."""
    if isinstance(template, Template):
        return template
    if isinstance(template, dict):
        return template_from_dict(template, "<template mapping>")
    text = str(template)
    if "/" not in text and "\\" not in text and not text.endswith(".json"):
        path = shipped_path(text)
        if path is None:
            raise RankrlError(f"unknown template {text!r}; valid choices: "
                              f"{', '.join(available_templates() + available_presets())} "
                              "(or a path to a template .json file)")
        return _read_file(path)
    path = Path(text)
    if not path.is_file():
        raise RankrlError(f"template file {path} does not exist")
    return _read_file(path)


def load_template(paradigm: str, template: str | Path | dict | Template | None = None) -> Template:
    """Resolve ``template`` for ``paradigm``: None (the paradigm's default), a shipped name such as
    ``"pointwise-binary"`` or a preset such as ``"rank-r1"``, a path to a JSON file, a mapping, or a ``Template``."""
    if template is None:
        template = paradigm
    text = str(template) if isinstance(template, (str, Path)) else ""
    if text and "/" not in text and "\\" not in text and not text.endswith(".json") and shipped_path(text) is None:
        valid = available_templates(paradigm) + available_presets(paradigm)
        raise RankrlError(
            f"unknown template {text!r} for paradigm {paradigm!r}; valid choices: {', '.join(valid)} "
            "(or a path to a template .json file)"
        )
    result = read_template(template)
    if result.paradigm != paradigm:
        valid = available_templates(paradigm) + available_presets(paradigm)
        raise RankrlError(
            f"template {result.name!r} is for paradigm {result.paradigm!r}, not {paradigm!r}; "
            f"valid choices for {paradigm!r}: {', '.join(valid)}"
        )
    return result
