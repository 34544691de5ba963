"""What the four paradigms share: options, templates, message building, the tag scan, metadata.

A paradigm subclass only says how to read a value from the answer text (``read_answer``) and how to write one
(``format_value``). ``parse`` wraps both in the shared tag rules of ``prompts.tags`` and never raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.prompts.base import Parsed
from rankrl.prompts.passages import Budgets, entries, labelled_block, prepare_passage, prepare_query
from rankrl.prompts.tags import contains_tag, locate
from rankrl.prompts.template import Template, load_template

# An answer is a label, a number, a ranking or a small JSON object: 20,000 characters is far above any real one
# (100 passages ranked or scored take ~1,500) and bounds the per-paradigm reading work on runaway generations.
MAX_ANSWER_CHARS = 20_000
MAX_PASSAGES = 100_000  # parse refuses absurd group sizes instead of building a huge permutation
OPTIONS = (
    "think_prefilled",
    "answer_fallback",
    "max_passage_chars",
    "max_passage_tokens",
    "max_prompt_tokens",
)


def _completion_text(completion: Any) -> str:
    """The text to parse when ``completion`` is not a ``str``: the last message's content of a conversational
    completion (``[{"role": "assistant", "content": ...}]``), else ``str(completion)`` ("" for None)."""
    if isinstance(completion, list):
        completion = (
            completion[-1].get("content", "") if completion and isinstance(completion[-1], dict) else ""
        )
    if not isinstance(completion, str):
        completion = "" if completion is None else str(completion)
    return completion


def _valid_count(num_passages: Any) -> bool:
    """An int (not a bool) in 1..MAX_PASSAGES."""
    return (
        not isinstance(num_passages, bool)
        and isinstance(num_passages, int)
        and 1 <= num_passages <= MAX_PASSAGES
    )


class Answer:
    """What ``read_answer`` returns: a value or an error, and whether the answer was non-canonical."""

    __slots__ = ("error", "repaired", "value")

    def __init__(self, value: Any = None, repaired: bool = False, error: str | None = None):
        self.value, self.repaired, self.error = value, repaired, error


def _positive_int_or_none(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RankrlError(f"paradigm option {name} must be a positive integer or None, got {value!r}")
    return value


class BaseParadigm:
    """Common behaviour; subclasses set ``name`` and implement ``read_answer`` / ``format_value``."""

    name: str = ""
    score_max: float | None = None  # pointwise/groupwise: the top of the score scale
    one_passage_per_prompt: bool = False
    """Each prompt shows one passage (pointwise): a training group becomes one row per passage."""
    gives_scores: bool = False
    """Answers are scores per passage (pointwise, groupwise), not a pick or an order: repeats merge by mean
    score, and a ranking is the passages sorted by score."""
    scores_from_logprobs: bool = False
    """The answer is one score token whose probabilities give an expected score (pointwise)."""
    DEFAULT_REWARDS: tuple[dict[str, Any], ...] = ()
    """Rewards a recipe that names none trains with: the paradigm's published main signal (+ a format term)."""

    def __init__(
        self,
        template: str | dict | Template | None = None,
        *,
        think_prefilled: bool = False,
        answer_fallback: bool = False,
        max_passage_chars: int | None = None,
        max_passage_tokens: int | None = None,
        max_prompt_tokens: int | None = None,
    ):
        self.template = load_template(self.name, template)
        # A template whose prompt ends inside <think> (Rank1's prefill) or whose answers have no <answer> block
        # (Rank1's "</think> true") says so itself; the options can only add to it.
        self.think_prefilled = bool(think_prefilled) or self.template.think_prefilled
        self.answer_fallback = bool(answer_fallback) or self.template.answer_fallback
        self.max_passage_chars = _positive_int_or_none("max_passage_chars", max_passage_chars)
        self.max_passage_tokens = _positive_int_or_none("max_passage_tokens", max_passage_tokens)
        self.max_prompt_tokens = _positive_int_or_none("max_prompt_tokens", max_prompt_tokens)

    # -- identity ---------------------------------------------------------------------------------------------
    @property
    def template_name(self) -> str:
        return self.template.name

    @property
    def template_version(self) -> str:
        return self.template.version

    def __repr__(self) -> str:
        return f"{type(self).__name__}(template={self.template_name!r} v{self.template_version})"

    # -- prompt -----------------------------------------------------------------------------------------------
    def check_passages(self, passages: Sequence[str]) -> None:
        """Raise when the passage count does not suit the paradigm (pointwise takes exactly one)."""
        if len(passages) < 1:
            raise RankrlError(f"{self.name} needs at least one passage, got none")

    def prepare_passages(self, passages: Sequence[Any]) -> list[str]:
        """Passages as the template writes them (title, whitespace, character budget, neutralisation; see
        ``prompts.passages``); token budgets are ``fit_messages``' job. A passage is a string or has ``text`` and
        ``title`` (a ``rankrl.data.records.Passage`` or a mapping)."""
        budgets = Budgets(max_passage_chars=self.max_passage_chars)
        return [prepare_passage(p, self.template.passages, budgets)[0] for p in passages]

    def passages_block(self, passages: Sequence[str]) -> str:
        return labelled_block(passages, self.template.passages)

    def render_prepared(self, query: str, prepared: Sequence[str]) -> list[dict[str, str]]:
        """Messages for passages that are already prepared (used by ``fit_messages``); the query is written as
        the template says (neutralisation is idempotent, so a prepared query may come in again)."""
        self.check_passages(prepared)
        shown = prepare_query(query, self.template.query, Budgets())
        return self.template.render(shown, self.passages_block(prepared), len(prepared),
                                    entries(prepared, self.template.passages))

    def messages(self, query: str, passages: Sequence[Any]) -> list[dict[str, str]]:
        """The prompt messages for ``query`` and its passages, labelled as the template says (``[1]``…``[n]``).

        A raw-text template gives one ``{"role": "raw"}`` message and a prefill a final assistant message:
        ``prompts.render.prompt_text`` turns them into the exact string the model receives."""
        if not isinstance(query, str):
            raise RankrlError(f"query must be a string, got {type(query).__name__}")
        self.check_passages(passages)
        return self.render_prepared(query, self.prepare_passages(passages))

    # -- answer -----------------------------------------------------------------------------------------------
    def read_answer(self, answer: str, num_passages: int) -> Answer:  # pragma: no cover - abstract
        raise NotImplementedError

    def format_value(self, value: Any) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def needs_num_passages(self) -> bool:
        return True

    def parse(self, completion: str, num_passages: int) -> Parsed:
        """Read a completion; malformed text is ``Parsed(ok=False, error=...)``, never an exception."""
        try:
            return self._parse(completion, num_passages)
        except Exception as err:  # noqa: BLE001 - the contract is "never raises"; tests assert this path is unused
            return Parsed(ok=False, error=f"internal parse error: {type(err).__name__}: {err}")

    def _parse(self, completion: Any, num_passages: int) -> Parsed:
        # The reward hot path (one call per completion): positional Parsed(...) calls, no intermediate records.
        # Parsed fields: ok, value, format_ok, repaired, error, reasoning, answer.
        if type(completion) is not str:
            completion = _completion_text(completion)
        format_ok, reasoning, answer, from_fallback, _, _ = locate(
            completion, self.think_prefilled, self.answer_fallback
        )
        if (  # a plain int in range passes the first test alone; anything else is checked in full
            (type(num_passages) is not int or not 1 <= num_passages <= MAX_PASSAGES)
            and not _valid_count(num_passages)
            and self.needs_num_passages()
        ):
            error = f"num_passages must be an integer in 1..{MAX_PASSAGES}, got {num_passages!r}"
            return Parsed(False, None, format_ok, False, error, reasoning, answer or "")
        if answer is None:
            return Parsed(False, None, format_ok, False, "no <answer>…</answer> block", reasoning, "")
        if len(answer) > MAX_ANSWER_CHARS:
            error = f"answer is longer than {MAX_ANSWER_CHARS} characters"
            return Parsed(False, None, format_ok, False, error, reasoning, answer[:200])
        got = self.read_answer(answer, num_passages)
        if got.error is not None:
            return Parsed(False, None, format_ok, False, got.error, reasoning, answer)
        return Parsed(True, got.value, format_ok, got.repaired or from_fallback, None, reasoning, answer)

    def render_answer(self, value: Any, reasoning: str = "") -> str:
        """A well-formed completion whose parse gives back ``value`` (SFT warm-up targets, tests)."""
        if not isinstance(reasoning, str):
            raise RankrlError(f"reasoning must be a string, got {type(reasoning).__name__}")
        if contains_tag(reasoning):
            raise RankrlError("reasoning must not contain <think>, </think>, <answer> or </answer>")
        body = self.format_value(value)
        opening = "" if self.think_prefilled else "<think>\n"
        return f"{opening}{reasoning.strip()}\n</think>\n<answer>{body}</answer>"

    # -- what the rest of rankrl asks a paradigm instead of switching on its name -----------------------------
    @property
    def default_strategy(self) -> str:
        """The inference strategy that drives this paradigm's answers (``eval.strategies``)."""
        return self.name

    @property
    def default_merge(self) -> str:
        """How test-time repeats merge by default: by mean score when answers are scores, else by mean rank."""
        return "mean-score" if self.gives_scores else "mean-rank"

    def default_rewards(self) -> list[dict[str, Any]]:
        """Fresh copies of ``DEFAULT_REWARDS`` (callers may edit them)."""
        return [dict(spec) for spec in self.DEFAULT_REWARDS]

    def gold_value(self, grades: Sequence[int], grade_max: int | None = None) -> Any:  # pragma: no cover
        """The answer value the relevance ``grades`` of the shown passages call right (ties: first shown).

        ``grade_max``: the top grade of the data, for paradigms whose answer is a score: a grade ``g`` becomes
        ``round(score_max * min(g, grade_max) / grade_max)`` (binary templates: 1 for any grade >= 1). None: the
        grade is the score itself, capped at ``score_max``. The one gold-answer rule of rankrl: the oracle
        backend, SFT ceilings and tests all use it."""
        raise NotImplementedError

    def random_value(self, num_passages: int, rng: Any) -> Any:  # pragma: no cover - abstract
        """A well-formed answer value drawn independently of relevance, from a ``numpy.random.Generator``
        (format warm-ups: the model learns the answer format, not what is relevant)."""
        raise NotImplementedError

    def _scaled_score(self, grade: int, grade_max: int | None) -> float:
        top = float(self.score_max or 10.0)
        if grade_max is None:
            return float(min(max(int(grade), 0), int(top)))
        if grade_max < 1:
            raise RankrlError(f"grade_max must be >= 1, got {grade_max}")
        return float(round(top * min(max(int(grade), 0), grade_max) / grade_max))

    # -- provenance -------------------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """What a checkpoint's rankrl.json stores so evaluation rebuilds the exact same paradigm."""
        meta: dict[str, Any] = {
            "paradigm": self.name,
            "template": {
                "name": self.template.name,
                "version": self.template.version,
                "sha256": self.template.sha256,
                "spec": self.template.to_dict(),
            },
            "truncation": {
                "max_passage_chars": self.max_passage_chars,
                "max_passage_tokens": self.max_passage_tokens,
                "max_prompt_tokens": self.max_prompt_tokens,
            },
            "think_prefilled": self.think_prefilled,
            "answer_fallback": self.answer_fallback,
        }
        if self.score_max is not None:
            meta["score_max"] = self.score_max
        return meta
