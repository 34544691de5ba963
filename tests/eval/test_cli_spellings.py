"""rankrl eval accepts both flag spellings, as rankrl train (Hugging Face's parser) does."""

from __future__ import annotations

from rankrl.eval.cli import build_parser


def test_underscore_and_dash_spellings_are_the_same_flag() -> None:
    parser = build_parser()
    base = ["--model", "m", "--benchmark", "b", "--out", "o"]
    dashed = parser.parse_args([*base, "--max-queries", "3", "--top-k", "20", "--no-progress"])
    underscored = parser.parse_args([*base, "--max_queries", "3", "--top_k", "20", "--no_progress"])
    assert dashed == underscored
    assert underscored.max_queries == 3 and underscored.top_k == 20 and underscored.no_progress
