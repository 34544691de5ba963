"""A model that can only come from an unreachable Hub fails at once, with the tiny-model hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankrl.core.errors import RankrlError
from rankrl.core.hub_check import check_model_available, hub_reachable


def test_missing_tiny_model_suggests_building_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RankrlError, match=r"build it first: rankrl tiny-model outputs/tiny-model"):
        check_model_available("outputs/tiny-model", reachable=lambda: False)
    with pytest.raises(RankrlError, match="cannot be reached"):
        check_model_available("org/some-model", reachable=lambda: False)


def test_local_folder_or_reachable_hub_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs" / "tiny-model").mkdir(parents=True)
    check_model_available("outputs/tiny-model", reachable=lambda: False)
    check_model_available("org/other", reachable=lambda: True)


def test_offline_mode_counts_as_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_reachable() is False


def test_unreachable_endpoint_answers_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    start = time.monotonic()
    assert hub_reachable(timeout=1.0) is False
    assert time.monotonic() - start < 2.0
