"""rankrl prompts: the one place that writes a reranker's input and reads its output.

``get_paradigm(name, template=None, **options)`` returns a paradigm with ``messages``, ``parse``,
``render_answer`` and ``metadata``; ``fit_messages`` builds messages that fit a token budget.
"""

from __future__ import annotations

from typing import Any

from rankrl.core.errors import RankrlError, unknown_name
from rankrl.prompts.base import Paradigm, Parsed
from rankrl.prompts.elimination import Elimination
from rankrl.prompts.fit import FitResult, count_prompt_tokens, fit_messages
from rankrl.prompts.groupwise import Groupwise
from rankrl.prompts.listwise import Listwise
from rankrl.prompts.paradigm import OPTIONS, BaseParadigm
from rankrl.prompts.pointwise import Pointwise
from rankrl.prompts.setwise import Setwise
from rankrl.prompts.tags import TagScan, scan
from rankrl.prompts.template import Template, available_templates, load_template

PARADIGMS = ("setwise", "listwise", "pointwise", "groupwise")
# IRanker's elimination steps: a paradigm of its own, kept out of PARADIGMS (the four that every recipe, the tiny
# model's warm-up and the per-paradigm test matrices cover) so adding it changes none of those.
ALL_PARADIGMS = (*PARADIGMS, "elimination")
_CLASSES: dict[str, type[BaseParadigm]] = {
    "setwise": Setwise,
    "listwise": Listwise,
    "pointwise": Pointwise,
    "groupwise": Groupwise,
    "elimination": Elimination,
}


def get_paradigm(name: str, template: Any = None, **options: Any) -> BaseParadigm:
    """A paradigm by name. ``template``: a shipped template name (``"pointwise-binary"``), a path to a template
    JSON file, a mapping, or None for the paradigm's default. ``options``: ``think_prefilled``,
    ``answer_fallback``, ``max_passage_chars``, ``max_passage_tokens``, ``max_prompt_tokens``."""
    if name not in _CLASSES:
        raise unknown_name("paradigm", str(name), ALL_PARADIGMS)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise RankrlError(f"unknown paradigm option(s) {unknown}; valid options: {', '.join(OPTIONS)}")
    return _CLASSES[name](template, **options)


def paradigm_from_metadata(meta: dict[str, Any]) -> BaseParadigm:
    """Rebuild the paradigm a checkpoint was trained with from its ``rankrl.json`` (see ``metadata()``).

    The stored template text is used, so evaluation prompts match training even if the shipped file changed."""
    if not isinstance(meta, dict) or "paradigm" not in meta:
        raise RankrlError("rankrl.json has no 'paradigm' field")
    tmpl = meta.get("template")
    template: Any = None
    if isinstance(tmpl, dict):
        template = tmpl.get("spec") or tmpl.get("name")
    elif isinstance(tmpl, str):
        template = tmpl
    options = {k: meta[k] for k in ("think_prefilled", "answer_fallback") if k in meta}
    trunc = meta.get("truncation") or {}
    options.update(
        {k: trunc[k] for k in ("max_passage_chars", "max_passage_tokens", "max_prompt_tokens") if k in trunc}
    )
    return get_paradigm(meta["paradigm"], template=template, **options)


__all__ = [
    "ALL_PARADIGMS",
    "PARADIGMS",
    "BaseParadigm",
    "Elimination",
    "FitResult",
    "Groupwise",
    "Listwise",
    "Paradigm",
    "Parsed",
    "Pointwise",
    "Setwise",
    "TagScan",
    "Template",
    "available_templates",
    "count_prompt_tokens",
    "fit_messages",
    "get_paradigm",
    "load_template",
    "paradigm_from_metadata",
    "scan",
]
