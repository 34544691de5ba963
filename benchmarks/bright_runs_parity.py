"""Score BRIGHT first-stage runs of all 12 domains with ``rankrl score`` and with pytrec_eval on the same parse.

The runs are ReasonRank's ReasonIR-8B (GPT-4 reasoning queries) top-100 files, 8421BCD/ReasonRank@06721fd6
``runs/<domain>/reasonir_gpt4cot_top100.txt`` (MIT; not stored in this repository: fetch that repository and pass
its ``runs`` folder). Prints a Markdown table (docs/day-to-day.md shows the result)::

    python benchmarks/bright_runs_parity.py --runs PATH/TO/ReasonRank/runs --data ../shared/data/bright
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytrec_eval

from rankrl.data.bright import excluded_from_examples, read_examples
from rankrl.data.trec import read_qrels, read_run

DOMAINS = ("aops", "biology", "earth_science", "economics", "leetcode", "pony", "psychology", "robotics",
           "stackoverflow", "sustainable_living", "theoremqa_questions", "theoremqa_theorems")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, type=Path, help="ReasonRank's runs/ folder")
    parser.add_argument("--data", default=Path("../shared/data/bright"), type=Path, help="BRIGHT qrels + examples")
    args = parser.parse_args()
    rows, ours_sum, ref_sum = [], 0.0, 0.0
    for domain in DOMAINS:
        fdom = domain.replace("_", "-")
        qrels_path = args.data / "qrels" / f"qrels.bright-{fdom}.txt"
        examples_path = args.data / "examples" / f"topics.bright-{fdom}-original.jsonl.gz"
        run_path = args.runs / domain / "reasonir_gpt4cot_top100.txt"
        done = subprocess.run([sys.executable, "-m", "rankrl.core.cli", "score", str(qrels_path), str(run_path),
                               "-m", "nDCG@10", "--bright-examples", str(examples_path)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{domain}: rankrl score failed: {done.stderr.strip()}", file=sys.stderr)
            return 1
        ours = json.loads(done.stdout)["nDCG@10"]
        qrels, run = read_qrels(qrels_path), read_run(run_path)
        excluded = excluded_from_examples(read_examples(examples_path))
        direct = {q: {d: s for d, s in ranking if d not in excluded.get(q, set())}
                  for q, ranking in run.items() if q in qrels}
        values = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10"}).evaluate(direct)
        ref = sum(v["ndcg_cut_10"] for v in values.values()) / len(qrels)
        rows.append(f"| {domain} | {len(qrels)} | {100 * ours:.2f} | {100 * ref:.2f} | {ours == ref} |")
        ours_sum, ref_sum = ours_sum + ours, ref_sum + ref
    print("| domain | queries | rankrl score nDCG@10 | pytrec_eval (same parse) | identical |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"| mean of 12 | | {100 * ours_sum / 12:.2f} | {100 * ref_sum / 12:.2f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
