"""Fail at once when a model id can only come from the Hugging Face Hub and the Hub cannot be reached.

Without this, ``from_pretrained("outputs/tiny-model")`` on a machine without network (or before
``rankrl tiny-model`` has built the folder) retries the Hub for ~50 s before failing. One TCP connection with a
short timeout answers the same question in at most ``timeout`` seconds; a model already in the local Hub cache,
or ``HF_HUB_OFFLINE=1`` with a cached copy, is left to transformers.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from rankrl.core.errors import RankrlError


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub endpoint (``HF_ENDPOINT``, default huggingface.co) opens in time."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def in_hub_cache(repo_id: str, revision: str | None = None) -> bool:
    """Whether the Hub cache already holds ``repo_id``'s ``config.json`` (then no download is needed)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - an invalid id or cache layout: not cached
        return False
    return isinstance(found, str)


def check_model_available(name: str, revision: str | None = None, field: str = "model_name_or_path",
                          reachable=hub_reachable) -> None:
    """Raise when ``name`` is no local folder, not in the Hub cache, and the Hub is unreachable."""
    if Path(str(name)).expanduser().exists() or in_hub_cache(str(name), revision) or reachable():
        return
    hint = (f" If it is the quickstart's tiny model, build it first: rankrl tiny-model {name}"
            if "tiny" in str(name).lower() else " Check the path, or connect to the network (or set HF_ENDPOINT)")
    raise RankrlError(f"{field} {name!r} is not a folder under {Path.cwd()} and the Hugging Face Hub cannot be "
                      f"reached to download it.{hint}.")
