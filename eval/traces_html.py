"""``traces.html``: one self-contained page to read a reranker's reasoning next to the passages it judged.

Queries are listed worst-first by nDCG@10 (the sidebar shows each query's value), so the failures are read first.
Per query: the final ranking (with grades and first-stage ranks), every prompt (round, passages shown with their
grades, reasoning, answer, parse status) and the candidate passages with their grades. Inline CSS and a little
inline JS (a query filter); no external resource. Every piece of text from the model or the data is HTML-escaped,
so a completion containing markup is shown as text, never run.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rankrl.core.atomic import atomic_write_text
from rankrl.data.records import Benchmark

TOP_SHOWN = 20
PASSAGE_CHARS = 1200

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;display:flex;color:#222}
nav{width:260px;height:100vh;overflow:auto;position:sticky;top:0;border-right:1px solid #ddd;padding:8px;
box-sizing:border-box;background:#fafafa}
nav input{width:100%;box-sizing:border-box;margin-bottom:6px;padding:4px}
nav a{display:block;padding:2px 4px;color:#224;text-decoration:none;font-size:13px}
nav a:hover{background:#e8eef8}
nav a .v{display:inline-block;width:44px;font-variant-numeric:tabular-nums;color:#555}
main{flex:1;padding:12px 20px;max-width:1100px}
section.query{border-bottom:2px solid #ccc;padding-bottom:16px;margin-bottom:16px}
h2{font-size:17px;margin:8px 0}
table{border-collapse:collapse;margin:6px 0}
td,th{border:1px solid #ddd;padding:2px 6px;vertical-align:top;font-size:13px}
.g0{color:#777}.g1{background:#fff4d6}.g2{background:#ffe2a8}.g3{background:#ffc870}
.fail{color:#b00020;font-weight:600}.ok{color:#176b2c}
pre{white-space:pre-wrap;background:#f5f5f5;padding:6px;margin:4px 0;font-size:12.5px}
details{margin:4px 0;border:1px solid #e2e2e2;padding:2px 6px}
summary{cursor:pointer}
.chip{display:inline-block;border:1px solid #ccc;border-radius:3px;padding:0 4px;margin:1px;font-size:12px}
.small{color:#666;font-size:12px}
"""

_JS = """
function filterQueries(text){
  text=text.toLowerCase();
  document.querySelectorAll('section.query').forEach(function(s){
    var hit=s.getAttribute('data-search').indexOf(text)>=0;
    s.style.display=hit?'':'none';
    var link=document.getElementById('nav-'+s.id); if(link){link.style.display=hit?'':'none';}
  });
}
"""


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _grade_class(grade: int | None) -> str:
    return f"g{min(max(int(grade or 0), 0), 3)}"


SORT_METRIC = "nDCG@10"


def worst_first(qids: Sequence[str], per_query: Mapping[str, Mapping[str, float]],
                metric: str = SORT_METRIC) -> list[str]:
    """``qids`` by ascending ``metric`` (ties by qid); queries without a value come last, in their given order."""
    scored = [q for q in qids if metric in per_query.get(q, {})]
    rest = [q for q in qids if metric not in per_query.get(q, {})]
    return sorted(scored, key=lambda q: (per_query[q][metric], q)) + rest


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_traces_html(benchmark: Benchmark, qids: Sequence[str], run: Mapping[str, list[tuple[str, float]]],
                       traces: Sequence[dict[str, Any]], title: str, per_query: Mapping[str, Mapping[str, float]],
                       top_k: int) -> str:
    by_query: dict[str, list[dict[str, Any]]] = {}
    for record in traces:
        by_query.setdefault(record["qid"], []).append(record)
    nav, body = [], []
    for qid in worst_first(qids, per_query):
        anchor = f"q{len(nav)}"
        query = benchmark.queries[qid].text if qid in benchmark.queries else ""
        grades = benchmark.qrels.get(qid, {})
        first = [d for d, _ in benchmark.first_stage.get(qid, [])]
        first_rank = {d: i + 1 for i, d in enumerate(first)}
        metrics = per_query.get(qid, {})
        value = metrics.get(SORT_METRIC)
        shown = "" if value is None else f"{value:.3f}"
        nav.append(f'<a id="nav-{anchor}" href="#{anchor}"><span class="v">{shown}</span>{_e(qid)}: '
                   f"{_e(query[:60])}</a>")
        parts = [f'<section class="query" id="{anchor}" data-search="{_e((qid + " " + query).lower())}">',
                 f"<h2>{_e(qid)} — {_e(query)}</h2>",
                 '<div class="small">' + " · ".join(f"{_e(k)} {v:.4f}" for k, v in metrics.items()) + "</div>"]
        ranking = run.get(qid, [])
        parts.append(f"<h3>Final ranking (top {min(TOP_SHOWN, len(ranking))})</h3><table><tr><th>rank</th>"
                     "<th>docid</th><th>grade</th><th>first-stage rank</th></tr>")
        for rank, (docid, _) in enumerate(ranking[:TOP_SHOWN], 1):
            g = grades.get(docid)
            parts.append(f'<tr class="{_grade_class(g)}"><td>{rank}</td><td><a href="#{anchor}-p-{_e(docid)}">'
                         f"{_e(docid)}</a></td><td>{'' if g is None else g}</td>"
                         f"<td>{first_rank.get(docid, '')}</td></tr>")
        parts.append("</table>")
        records = by_query.get(qid, [])
        failed = sum(1 for r in records if not r["ok"])
        parts.append(f"<h3>Prompts ({len(records)}, {_plural(failed, 'failed parse')})</h3>")
        for r in records:
            status = '<span class="ok">ok</span>' if r["ok"] else f'<span class="fail">parse failed: {_e(r["error"])}</span>'
            chips = "".join(
                f'<a class="chip {_grade_class(grades.get(d))}" href="#{anchor}-p-{_e(d)}">[{i}] {_e(d)}'
                f"{'' if grades.get(d) is None else ' · ' + str(grades.get(d))}</a>"
                for i, d in enumerate(r["docids"], 1))
            parts.append(
                f"<details><summary>{_e(r['prompt_id'])} · round {r['round']} · {_plural(len(r['docids']), 'passage')} · "
                f"{status} · answer: <code>{_e(str(r.get('answer') or '')[:120])}</code></summary>"
                f"<div>{chips}</div>"
                f"<div class=\"small\">{r['prompt_tokens']} prompt tokens, {r['completion_tokens']} completion "
                f"tokens{' (cached)' if r.get('cached') else ''}{' · repaired' if r.get('repaired') else ''}"
                f"{'' if r.get('format_ok') else ' · format not ok'}</div>"
                f"<b>reasoning</b><pre>{_e(r.get('reasoning'))}</pre><b>answer</b><pre>{_e(r.get('answer'))}</pre>"
                + ("" if r["ok"] else f"<b>completion</b><pre>{_e(r.get('completion'))}</pre>")
                + "</details>")
        parts.append(f"<details><summary>Candidate passages (first-stage top {min(top_k, len(first))})</summary>"
                     "<table><tr><th>first-stage rank</th><th>docid</th><th>grade</th><th>text</th></tr>")
        for docid in first[:top_k]:
            passage = benchmark.passages.get(docid)
            text = passage.render() if passage else ""
            cut = text[:PASSAGE_CHARS] + ("…" if len(text) > PASSAGE_CHARS else "")
            g = grades.get(docid)
            parts.append(f'<tr id="{anchor}-p-{_e(docid)}" class="{_grade_class(g)}"><td>{first_rank[docid]}</td>'
                         f"<td>{_e(docid)}</td><td>{'' if g is None else g}</td><td>{_e(cut)}</td></tr>")
        parts.append("</table></details></section>")
        body.append("\n".join(parts))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style><script>{_JS}</script></head><body>"
        f'<nav><input type="search" placeholder="filter queries" oninput="filterQueries(this.value)">'
        + f'<div class="small">{len(nav)} queries, worst {SORT_METRIC} first</div>'
        + "\n".join(nav) + f"</nav><main><h1>{_e(title)}</h1>"
        '<p class="small">Grades from the qrels (blank: unjudged). Chips are the passages a prompt showed, in '
        "order, with their grades.</p>" + "\n".join(body) + "</main></body></html>\n"
    )


def write_traces_html(path: Path, *args: Any, **kwargs: Any) -> Path:
    atomic_write_text(path, render_traces_html(*args, **kwargs))
    return path


def render_index_html(title: str, entries: Sequence[tuple[str, str, float, int]]) -> str:
    """A multi-benchmark run's ``traces.html``: links to each benchmark's page (name, href, nDCG@10, queries)."""
    rows = "".join(f'<tr><td><a href="{_e(href)}">{_e(name)}</a></td><td>{value:.4f}</td><td>{n}</td></tr>'
                   for name, href, value, n in entries)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            f"<style>{_CSS}</style></head><body><main><h1>{_e(title)}</h1><table><tr><th>benchmark</th>"
            f"<th>nDCG@10</th><th>queries</th></tr>{rows}</table></main></body></html>\n")
