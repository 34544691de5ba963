"""Completion cache: what makes an interrupted evaluation resumable.

Every completion is appended to a JSONL file in the output folder, flushed and fsynced after each backend batch,
keyed by a hash of (model id, prompt, sampling settings, sample number). Rerunning the same command reads the file
back, generates only the prompts not in it, and so produces the identical run. A process killed mid-write
(``kill -9``) leaves at most one truncated last line: it is dropped (and cut from the file before appending);
a malformed line anywhere else means the file was damaged and is reported with its line number.

Each record also names the model id it was generated with (path + weights fingerprint, see
``backends.hf.model_id``). The key already depends on it, so completions of other weights are never reused;
``set_aside_other_models`` moves such records to a side file so the cache holds only what this run can use, and
the caller can say why everything is regenerated.

Two kinds of hostile input are handled here. A completion may hold lone UTF-16 surrogates (``"\ud800"``: a
backend decoding a cut multi-byte character, or any text a remote server returns); UTF-8 cannot encode them, so
``storable`` replaces each with U+FFFD before anything is parsed, cached or written. And the cache files are never
followed through a symbolic link: a link planted at ``OUT/completions.cache.jsonl`` (or its ``.stale`` side
file) would make rankrl append to a file outside ``--out``, so it is refused (``O_NOFOLLOW``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.eval.backends.base import Generation, Prompt, Sampling

CACHE_FILE = "completions.cache.jsonl"
STALE_SUFFIX = ".stale"
"""``completions.cache.jsonl.stale``: records of other weights, set aside (appended), never read back."""


def _clean(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a valid pair is kept as the character it encodes)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def storable(generation: Generation) -> Generation:
    """``generation`` with text UTF-8 can store: lone surrogates in the completion or its logprob tokens become
    U+FFFD, so a cache write, a rerun and every report can encode it (the same object when nothing changes)."""
    text = _clean(generation.text)
    logprobs = generation.answer_logprobs
    if logprobs is not None:
        logprobs = [(_clean(tok), {_clean(k): v for k, v in top.items()}) for tok, top in logprobs]
    if text is generation.text and logprobs == generation.answer_logprobs:
        return generation
    return replace(generation, text=text, answer_logprobs=logprobs, meta={**generation.meta, "replaced_surrogates": True})


def _open_no_follow(path: Path, flags: int) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (planted to redirect writes outside the output)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError:
        if path.is_symlink():
            raise _symlink_error(path) from None
        raise


def _symlink_error(path: Path) -> RankrlError:
    return RankrlError(f"{path} is a symbolic link (to {os.readlink(path)}): rankrl never writes a completion cache "
                       f"through a link, which could point outside the output folder; remove the link, or use "
                       f"another --out")


def sampling_blob(sampling: Sampling) -> bytes:
    return json.dumps(sampling.key(), sort_keys=True, separators=(",", ":")).encode("utf-8")


def cache_key(model_id: str, prompt: Prompt, sampling: Sampling, blob: bytes | None = None) -> str:
    """Stable hash of everything a completion depends on (greedy decoding ignores the sample number).

    Every field is length-prefixed, so no two different prompts hash the same input. ``blob`` is
    ``sampling_blob(sampling)``, precomputed by callers that hash many prompts.
    """
    digest = hashlib.sha256()
    for part in (model_id.encode("utf-8"), blob if blob is not None else sampling_blob(sampling),
                 str(0 if sampling.greedy else prompt.sample).encode()):
        digest.update(b"%d:" % len(part))
        digest.update(part)
    for role, content in prompt.messages:
        for text in (role, content):
            data = text.encode("utf-8")
            digest.update(b"%d:" % len(data))
            digest.update(data)
    return digest.hexdigest()


class CompletionCache:
    """Append-only completion store backed by one JSONL file (``{"key", "model", "generation"}`` per line).

    ``model_id``: the id new records are tagged with (``None``: untagged, as older rankrl versions wrote them).
    """

    def __init__(self, path: str | Path, model_id: str | None = None):
        self.path = Path(path)
        self.model_id = model_id
        self._entries: dict[str, Generation] = {}
        self._models: dict[str, str | None] = {}
        self.dropped_partial_line = False
        for file in (self.path, self._stale_path()):
            if file.is_symlink():
                raise _symlink_error(file)
        if self.path.exists():
            self._load()

    def _stale_path(self) -> Path:
        return self.path.with_name(self.path.name + STALE_SUFFIX)

    def _append(self, path: Path, text: str) -> None:
        """Append ``text`` to ``path`` (created with the umask's mode) and make it durable; never through a link."""
        fd = _open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def _load(self) -> None:
        with os.fdopen(_open_no_follow(self.path, os.O_RDONLY), "rb") as handle:
            raw = handle.read()
        lines = raw.split(b"\n")
        complete_end = len(raw)
        if lines and lines[-1] != b"":
            # The last line has no newline: the write was cut short. Keep it only if it is a whole record.
            last = lines[-1]
            try:
                self._add(json.loads(last.decode("utf-8")), len(lines))
                lines = lines[:-1]
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
                self.dropped_partial_line = True
                complete_end = len(raw) - len(last)
                lines = lines[:-1]
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8"))
                self._add(record, number)
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                raise DataFormatError(self.path, number, f"damaged completion cache record ({err}); "
                                      "delete the file to regenerate every completion") from err
        if self.dropped_partial_line:
            fd = _open_no_follow(self.path, os.O_WRONLY)
            try:
                os.ftruncate(fd, complete_end)
            finally:
                os.close(fd)
        elif raw and not raw.endswith(b"\n"):
            self._append(self.path, "\n")

    def _add(self, record: dict, _line: int) -> None:
        key = record["key"]
        model = record.get("model")
        if not isinstance(key, str) or not (model is None or isinstance(model, str)):
            raise TypeError("key or model is not a string")
        self._entries[key] = Generation.from_json(record["generation"])
        self._models[key] = model

    def _line(self, key: str, generation: Generation, model: str | None) -> str:
        generation = storable(generation)
        record = {"key": key, **({"model": model} if model is not None else {}), "generation": generation.to_json()}
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"

    def models(self) -> Counter:
        """How many cached completions each model id generated (``None``: untagged records)."""
        return Counter(self._models.values())

    def set_aside_other_models(self) -> dict[str | None, int]:
        """Move the records of model ids other than ``self.model_id`` to ``<file>.stale`` (appended) and rewrite the
        cache atomically without them. Returns how many were moved per model id ({} when none)."""
        if self.model_id is None:
            return {}
        other = {k: m for k, m in self._models.items() if m != self.model_id}
        if not other:
            return {}
        from rankrl.core.atomic import atomic_write_text

        self._append(self._stale_path(), "".join(self._line(k, self._entries[k], m) for k, m in other.items()))
        for key in other:
            del self._entries[key]
            del self._models[key]
        atomic_write_text(self.path, "".join(self._line(k, g, self._models[k]) for k, g in self._entries.items()))
        return dict(Counter(other.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> Generation | None:
        return self._entries.get(key)

    def put_many(self, items: Iterable[tuple[str, Generation]]) -> None:
        """Append a batch of completions and make them durable before returning."""
        items = list(items)
        if not items:
            return
        lines = []
        for key, generation in items:
            generation = storable(generation)
            self._entries[key] = generation
            self._models[key] = self.model_id
            lines.append(self._line(key, generation, self.model_id))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._append(self.path, "".join(lines))
