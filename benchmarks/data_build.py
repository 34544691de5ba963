"""Peak memory and speed of ``rankrl data build`` on a synthetic Tevatron file, in one run.

    .venv/bin/python benchmarks/data_build.py [--queries 8000] [--negatives 30] [--tokenizer DIR]

A full MS MARCO build (about 490k queries, Rank-R1's 1 positive + 19 negatives, ~7 KB of prompt per row) is
several GB of text, so what matters is how peak memory grows with the number of rows. Each variant runs in its
own process (its peak resident set size, ``ru_maxrss``, is its own) on the same file:

- **streamed** (what ``rankrl data build`` and ``rankrl train`` do): rows go to Arrow ``_CHUNK`` rows at a time;
- **listed** (``as_dataset=False``, what tests and small callers use): every row is built as Python objects
  first, then converted with ``rows_to_dataset``;
- **streamed, --num-proc 2**: prompts rendered in two worker processes (the peak printed is the parent's;
  each worker holds one render chunk).

The saved datasets are checked to be equal. Passages are ~330 characters of random words (MS MARCO's mean
passage length); with ``--tokenizer`` every prompt is also token-counted, the part ``--num-proc`` spreads over
processes (without one, rendering is cheap and moving rows between processes can cost more than it saves).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_tevatron(path: Path, queries: int, negatives: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(5000)]

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(55))

    with open(path, "w", encoding="utf-8") as handle:
        for q in range(queries):
            record = {
                "query_id": str(q),
                "query": " ".join(rng.choice(words) for _ in range(6)),
                "positive_passages": [{"docid": f"p{q}", "title": "", "text": text()}],
                "negative_passages": [{"docid": f"n{q}_{i}", "title": "", "text": text()} for i in range(negatives)],
            }
            handle.write(json.dumps(record) + "\n")


def child(mode: str, source: str, out: str, tokenizer_dir: str | None) -> None:
    """One build in this process; prints a JSON line with wall time, peak RSS and rows."""
    from rankrl.data.rows import RowsConfig, rows_from_tevatron, rows_to_dataset, save_rows

    tokenizer = None
    if tokenizer_dir:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    start = time.perf_counter()
    num_proc = 2 if mode == "streamed-2proc" else 1
    if mode == "listed":
        result = rows_from_tevatron(source, RowsConfig("setwise"), tokenizer=tokenizer)
        dataset = rows_to_dataset(result.rows)
    else:
        result = rows_from_tevatron(source, RowsConfig("setwise"), tokenizer=tokenizer, as_dataset=True, num_proc=num_proc)
        dataset = result.dataset
    save_rows(dataset, out, {"stats": result.stats})
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds": seconds, "peak_mb": peak_mb, "rows": len(dataset)}))


def baseline_mb(tokenizer_dir: str | None) -> float:
    """Peak RSS of a process that only imports what a build imports (the fixed part of every peak)."""
    code = (
        "import resource, data.rows, datasets\n"
        + (f"from transformers import AutoTokenizer; AutoTokenizer.from_pretrained({tokenizer_dir!r})\n"
           if tokenizer_dir else "")
        + "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=8000)
    parser.add_argument("--negatives", type=int, default=30)
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder: token-count every prompt too")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.tokenizer)
        return

    from tqdm.auto import tqdm

    with tempfile.TemporaryDirectory(prefix="rankrl-bench-build-") as tmp:
        source = Path(tmp) / "train.jsonl"
        write_tevatron(source, args.queries, args.negatives)
        base = baseline_mb(args.tokenizer)
        results = {}
        for mode in tqdm(("streamed", "listed", "streamed-2proc"), desc="builds"):
            command = [sys.executable, __file__, "--child", mode, str(source), str(Path(tmp) / mode)]
            if args.tokenizer:
                command += ["--tokenizer", args.tokenizer]
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"{mode} build failed:\n{done.stderr[-3000:]}")
            results[mode] = json.loads(done.stdout.strip().splitlines()[-1])

        import datasets

        loaded = {mode: datasets.load_from_disk(str(Path(tmp) / mode)) for mode in results}
        reference = loaded["streamed"].data.table
        assert all(d.data.table.equals(reference) for d in loaded.values()), "the builds differ"
        text_mb = source.stat().st_size / 2**20

    rows = results["streamed"]["rows"]
    print(f"{args.queries} Tevatron queries ({text_mb:.0f} MB JSONL) -> {rows} setwise rows of 20 passages; "
          f"tokenizer: {args.tokenizer or 'none (character budgets)'}; the three datasets are equal")
    print(f"fixed part of every peak (imports{' + tokenizer' if args.tokenizer else ''}): {base:.0f} MB\n")
    print("| build | wall (s) | rows/s | peak RSS (MB) | peak above the fixed part (MB) |")
    print("|---|---:|---:|---:|---:|")
    for mode, r in results.items():
        print(f"| {mode} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:.0f} | {r['peak_mb']:.0f} "
              f"| {r['peak_mb'] - base:.0f} |")
    streamed, listed = results["streamed"], results["listed"]
    print(f"\nlisted / streamed, memory above the fixed part: "
          f"{(listed['peak_mb'] - base) / max(streamed['peak_mb'] - base, 1):.2f}x; "
          f"--num-proc 2 speed-up: {streamed['seconds'] / results['streamed-2proc']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
