"""Prompt templates are data: one JSON file per template in ``prompts/templates/``, named and versioned.

A template file holds ``name``, ``version``, ``paradigm``, ``system``, ``user``, ``answer_format`` and, for
pointwise, ``scale`` (``graded`` 0–10 or ``binary`` true/false); ``description`` is optional. ``system`` and
``user`` may use the placeholders ``{query}``, ``{passages}``, ``{num_passages}`` and ``{answer_format}``; ``user``
must contain ``{query}`` and ``{passages}``. Substitution is one pass, so braces inside a query or a passage are
never expanded. The template's content hash goes into ``rankrl.json`` so an edited file is noticed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankrl.core.errors import DataFormatError, RankrlError

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = re.compile(r"\{(query|passages|num_passages|answer_format)\}")
_REQUIRED = ("name", "version", "paradigm", "system", "user", "answer_format")
_OPTIONAL = ("scale", "description")
SCALES = ("graded", "binary")


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    paradigm: str
    system: str
    user: str
    answer_format: str
    scale: str | None = None
    description: str = ""

    def render(self, query: str, passages_block: str, num_passages: int) -> list[dict[str, str]]:
        """System + user messages with the placeholders filled in one pass."""
        values = {
            "query": query,
            "passages": passages_block,
            "num_passages": str(num_passages),
            "answer_format": self.answer_format,
        }

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

        return [
            {"role": "system", "content": fill(self.system)},
            {"role": "user", "content": fill(self.user)},
        ]

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def sha256(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


def template_from_dict(raw: Any, source: str) -> Template:
    """Validate a template mapping; errors name ``source`` and the offending field."""
    if not isinstance(raw, dict):
        raise DataFormatError(source, None, "a template must be a JSON object")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise DataFormatError(
            source, None, f"unknown template field(s) {unknown}; allowed: {list(_REQUIRED + _OPTIONAL)}"
        )
    for key in _REQUIRED:
        if key not in raw:
            raise DataFormatError(source, None, f"template field {key!r} is missing")
    fields = dict(raw)
    if isinstance(fields["version"], int) and not isinstance(fields["version"], bool):
        fields["version"] = str(fields["version"])
    for key in _REQUIRED + ("description",):
        if key in fields and not isinstance(fields[key], str):
            raise DataFormatError(source, None, f"template field {key!r} must be a string")
    for key in ("name", "version", "paradigm", "user"):
        if not fields[key].strip():
            raise DataFormatError(source, None, f"template field {key!r} is empty")
    for needed in ("{query}", "{passages}"):
        if needed not in fields["user"]:
            raise DataFormatError(source, None, f"template field 'user' must contain {needed}")
    scale = fields.get("scale")
    if fields["paradigm"] == "pointwise":
        scale = scale or "graded"
        if scale not in SCALES:
            raise DataFormatError(
                source, None, f"template field 'scale' must be one of {list(SCALES)}, got {scale!r}"
            )
    elif scale is not None:
        raise DataFormatError(source, None, "template field 'scale' only applies to pointwise templates")
    fields["scale"] = scale
    return Template(**fields)


def available_templates(paradigm: str | None = None) -> list[str]:
    """Names of the shipped templates (for one paradigm when given)."""
    names = []
    for path in sorted(TEMPLATE_DIR.glob("*.json"), key=lambda p: p.stem):
        if paradigm is None or path.stem == paradigm or path.stem.startswith(paradigm + "-"):
            names.append(path.stem)
    return names


def _read_file(path: Path) -> Template:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise RankrlError(f"{path}: cannot read template ({err})") from err
    except json.JSONDecodeError as err:
        raise DataFormatError(path, err.lineno, f"template is not valid JSON ({err.msg})") from err
    return template_from_dict(raw, str(path))


def load_template(paradigm: str, template: str | Path | dict | Template | None = None) -> Template:
    """Resolve ``template`` for ``paradigm``: None (the paradigm's default), a shipped name such as
    ``"pointwise-binary"``, a path to a JSON file, a mapping, or a ``Template``."""
    if template is None:
        template = paradigm
    if isinstance(template, Template):
        result = template
    elif isinstance(template, dict):
        result = template_from_dict(template, "<template mapping>")
    else:
        text = str(template)
        shipped = TEMPLATE_DIR / f"{text}.json"
        if "/" not in text and "\\" not in text and not text.endswith(".json"):
            if not shipped.is_file():
                valid = available_templates(paradigm)
                raise RankrlError(
                    f"unknown template {text!r} for paradigm {paradigm!r}; valid choices: {', '.join(valid)} "
                    "(or a path to a template .json file)"
                )
            result = _read_file(shipped)
        else:
            path = Path(text)
            if not path.is_file():
                raise RankrlError(f"template file {path} does not exist")
            result = _read_file(path)
    if result.paradigm != paradigm:
        raise RankrlError(
            f"template {result.name!r} is for paradigm {result.paradigm!r}, not {paradigm!r}; "
            f"valid choices for {paradigm!r}: {', '.join(available_templates(paradigm))}"
        )
    return result
