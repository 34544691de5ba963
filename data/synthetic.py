"""A synthetic ranking benchmark generated in code from a seed: the quickstart's task, with no shipped data.

Why synthetic: a newcomer's first run (``make demo``) must train and evaluate without downloads, on a model
small enough to train from scratch on two CPU cores. Each query gets a group of ``group_size`` candidate
passages, exactly one of them relevant (grade 1); the first-stage run lists the group in a seeded random
order, so the first stage carries no signal and the reranker must read the passages.

Tasks (keyword-only ``task=``):

- ``"marker"`` (the quickstart's): relevance shows in the passage's own content — the relevant passage carries
  the word ``MARKER`` ("evidence"), the others do not; every passage of the group contains the query's keyword,
  so only the marker tells them apart. ``marker_position="start"`` puts the marker first (a fixed offset from
  the passage label, which a setwise model must copy); ``"random"`` anywhere in the passage.
- ``"match"``: the query names a keyword; the relevant passage contains it and every other passage contains a
  different keyword. Harder: the model must compare the query with each passage (the tiny model did not learn
  it within the quickstart's budget, even with gold labels; see docs/findings.md).

Train and held-out splits are disjoint: qids and docids carry the split name (``train-q07-d2``), each split is
drawn from its own random stream (seed and split hashed together), and with ``disjoint_keywords=True`` the two
splits' query keywords come from disjoint halves of the vocabulary.
"""

from __future__ import annotations

import hashlib
import random

from rankrl.core.errors import ConfigError
from rankrl.data.records import Benchmark, Passage, Qrels, Query, Run

SPLITS = ("train", "test")
TASKS = ("match", "marker")
MARKER_POSITIONS = ("random", "start")
MARKER = "evidence"  # one token in the tiny model's tokenizer (its corpus holds the word)

# Short, common English words: byte-level BPE trained on them (the tiny model's tokenizer) keeps them whole.
KEYWORDS = (
    "red", "blue", "green", "black", "white", "pink", "gray", "brown",
    "cat", "dog", "cow", "pig", "fox", "owl", "bee", "ant",
    "sun", "moon", "star", "rain", "snow", "wind", "fire", "ice",
    "tea", "milk", "rice", "bread", "salt", "egg", "fish", "corn",
)
FILLER = (
    "the", "a", "of", "and", "in", "on", "with", "near", "by", "at", "some", "this",
    "old", "new", "big", "small", "one", "two", "three", "many", "each", "every",
)


def _split_seed(seed: int, split: str) -> int:
    """An independent random stream per (seed, split), stable across Python versions."""
    digest = hashlib.sha256(f"rankrl-synthetic/{seed}/{split}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _passage_text(
    rng: random.Random, keyword: str, length: int, extra: str | None = None, extra_first: bool = False
) -> str:
    words = [rng.choice(FILLER) for _ in range(length)]
    words.insert(rng.randrange(len(words) + 1), keyword)
    if extra is not None:
        words.insert(0 if extra_first else rng.randrange(len(words) + 1), extra)
    return " ".join(words)


def synthetic_benchmark(
    num_queries: int,
    group_size: int,
    seed: int,
    split: str = "train",
    *,
    task: str = "match",
    passage_words: int = 4,
    disjoint_keywords: bool = False,
    marker_position: str = "random",
) -> Benchmark:
    """Build ``num_queries`` queries with ``group_size`` candidates each; deterministic for ``seed`` and ``split``.

    ``passage_words`` filler words surround the keyword in every passage. ``split`` is ``"train"`` or
    ``"test"`` (held out).
    """
    if split not in SPLITS:
        raise ConfigError(f"synthetic split {split!r} is not one of {', '.join(SPLITS)}")
    if task not in TASKS:
        raise ConfigError(f"synthetic task {task!r} is not one of {', '.join(TASKS)}")
    if num_queries < 1:
        raise ConfigError(f"num_queries must be >= 1, got {num_queries}")
    if marker_position not in MARKER_POSITIONS:
        raise ConfigError(f"marker_position {marker_position!r} is not one of {', '.join(MARKER_POSITIONS)}")
    if passage_words < 0:
        raise ConfigError(f"passage_words must be >= 0, got {passage_words}")
    keywords = list(KEYWORDS)
    if disjoint_keywords:
        half = len(keywords) // 2
        query_keywords = keywords[:half] if split == "train" else keywords[half:]
    else:
        query_keywords = keywords
    if not 2 <= group_size <= len(keywords):
        raise ConfigError(f"group_size must be between 2 and {len(keywords)}, got {group_size}")

    rng = random.Random(_split_seed(seed, split))
    queries: dict[str, Query] = {}
    passages: dict[str, Passage] = {}
    qrels: Qrels = {}
    run: Run = {}
    width = len(str(num_queries - 1))
    for q in range(num_queries):
        qid = f"{split}-q{q:0{width}d}"
        keyword = rng.choice(query_keywords)
        queries[qid] = Query(qid, keyword)
        relevant = rng.randrange(group_size)
        others = rng.sample([k for k in keywords if k != keyword], group_size - 1)
        docids = []
        for slot in range(group_size):
            docid = f"{qid}-d{slot}"
            if task == "match":
                kw = keyword if slot == relevant else others[slot - (slot > relevant)]
                text = _passage_text(rng, kw, passage_words)
            else:
                text = _passage_text(
                    rng, keyword, passage_words, MARKER if slot == relevant else rng.choice(FILLER) if
                    marker_position == "start" else None, extra_first=marker_position == "start")
            passages[docid] = Passage(docid, text)
            docids.append(docid)
        qrels[qid] = {docid: int(i == relevant) for i, docid in enumerate(docids)}
        shown = rng.sample(docids, len(docids))  # the first stage's order carries no relevance signal
        run[qid] = [(docid, float(len(shown) - rank)) for rank, docid in enumerate(shown)]
    return Benchmark(
        name=f"synthetic-{task}-{split}",
        queries=queries,
        passages=passages,
        qrels=qrels,
        first_stage=run,
        provenance={
            "source": "rankrl.data.synthetic.synthetic_benchmark",
            "task": task,
            "seed": seed,
            "split": split,
            "num_queries": num_queries,
            "group_size": group_size,
            "passage_words": passage_words,
            "disjoint_keywords": disjoint_keywords,
        },
    )
