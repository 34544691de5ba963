"""traces.html: self-contained, escaped, with reasoning, answers, passages and grades per query."""

from __future__ import annotations

import re

from rankrl import prompts
from rankrl.eval.backends.base import Sampling
from rankrl.eval.backends.oracle import OracleBackend
from rankrl.eval.runner import RerankConfig, rerank_benchmark
from rankrl.eval.strategies import build_strategy
from rankrl.eval.traces_html import render_index_html, render_traces_html, worst_first

EVIL = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'


def _result(dl19, fail_every=0):
    paradigm = prompts.get_paradigm("listwise")
    backend = OracleBackend(dl19.qrels, paradigm, reasoning=EVIL, fail_every=fail_every)
    fit = lambda q, t: prompts.fit_messages(paradigm, q, t).messages
    return rerank_benchmark(dl19, build_strategy("listwise"), backend, paradigm.parse, fit, Sampling(),
                            RerankConfig(max_queries=2), progress=False)


def test_model_text_is_escaped_and_the_page_is_self_contained(dl19):
    result = _result(dl19, fail_every=3)
    page = render_traces_html(dl19, result.qids, result.run, result.traces, "t <b>", result.evaluation.per_query,
                              100)
    assert EVIL not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<script>") == 1  # only the page's own inline filter script
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no external resource
    assert "<title>t &lt;b&gt;</title>" in page


def test_each_query_shows_prompts_grades_and_passages(dl19):
    result = _result(dl19, fail_every=3)
    page = render_traces_html(dl19, result.qids, result.run, result.traces, "title", result.evaluation.per_query,
                              100)
    for qid in result.qids:
        assert f"<h2>{qid} — " in page
        assert dl19.queries[qid].text in page
    sections = page.split('<section class="query"')[1:]
    assert len(sections) == 2
    first = sections[0]
    qid = worst_first(result.qids, result.evaluation.per_query)[0]  # sections are worst nDCG@10 first
    assert f"<h2>{qid} — " in first
    assert first.count("<details><summary>") == 9 + 1  # nine listwise windows, then the candidate passages
    failed = sum(1 for t in result.traces if t["qid"] == qid and not t["ok"])
    assert f"({9}, {failed} failed parse{'' if failed == 1 else 's'})" in first
    assert first.count("parse failed") == failed
    # every candidate passage with its grade, and the grades next to the ranking
    judged = [(d, g) for d, g in dl19.qrels[qid].items() if any(d == c for c, _ in dl19.first_stage[qid])]
    docid, grade = judged[0]
    assert re.search(rf'id="q0-p-{docid}" class="g{min(grade, 3)}"><td>\d+</td><td>{docid}</td><td>{grade}</td>',
                     first)
    text = dl19.passages[docid].render()[:50]
    import html

    assert html.escape(text) in first


def test_index_page_links_each_benchmark():
    page = render_index_html("runs <x>", [("bright/pony", "bright-pony/traces.html", 0.25, 3)])
    assert 'href="bright-pony/traces.html"' in page and "0.2500" in page and "runs &lt;x&gt;" in page


def test_worst_first_order_and_sidebar_values():
    per_query = {"a": {"nDCG@10": 0.9}, "b": {"nDCG@10": 0.1}, "c": {"nDCG@10": 0.5}, "d": {"AP": 0.3}}
    assert worst_first(["a", "b", "c", "d"], per_query) == ["b", "c", "a", "d"]
    assert worst_first(["x", "y"], {"x": {"nDCG@10": 0.2}, "y": {"nDCG@10": 0.2}}) == ["x", "y"]


def test_sidebar_lists_values_worst_first_and_says_one_passage(dl19):
    result = _result(dl19)
    per_query = {q: dict(v) for q, v in result.evaluation.per_query.items()}
    low, high = result.qids
    per_query[low]["nDCG@10"], per_query[high]["nDCG@10"] = 0.125, 0.75
    page = render_traces_html(dl19, result.qids, result.run, result.traces, "t", per_query, 100)
    nav = page.split("<nav>")[1].split("</nav>")[0]
    assert nav.index('<span class="v">0.125</span>') < nav.index('<span class="v">0.750</span>')
    assert "worst nDCG@10 first" in nav
    traces = [dict(t, docids=t["docids"][:1]) for t in result.traces]
    assert " · 1 passage · " in render_traces_html(dl19, result.qids, result.run, traces, "t", per_query, 100)
