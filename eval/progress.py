"""How much work an evaluation has ahead of it, so progress bars show totals and a time estimate.

A strategy may offer ``plan(n) -> Plan``: the rounds and prompts it needs for ``n`` candidates. Listwise windows,
pointwise, groupwise, elimination and setwise bubble sort know these exactly (their prompts do not depend on the
model's answers); setwise heapsort gives an upper bound (a sift stops early when the parent wins), shown as an
estimate. Queries advance in parallel, so a run's rounds are the largest of its tasks' and its prompts the sum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """Rounds (sequential backend calls) and prompts of one task; ``exact`` False for an upper bound."""

    rounds: int
    prompts: int
    exact: bool = True


def combine(plans: Iterable[Plan]) -> Plan | None:
    """The plan of tasks run side by side: max rounds, summed prompts; None for no plans."""
    plans = list(plans)
    if not plans:
        return None
    return Plan(rounds=max(p.rounds for p in plans), prompts=sum(p.prompts for p in plans),
                exact=all(p.exact for p in plans))


def silence_library_bars() -> None:
    """``--no-progress``: also silence transformers' weight-loading bar and huggingface_hub's download bars.

    Both libraries keep this switch as process-wide state; ``rankrl eval --no-progress`` wants exactly that."""
    import os

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # transformers absent (a vLLM-only or scoring-only install)
        pass
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass
