"""The README and docs/ stay short, linked, true to the code and free of stale generated tables.

Why: the reference moved from a 1,700-line README into docs/ pages; these checks keep it from drifting back
(README size, every page reachable from the README, no dead relative links or anchors, no removed import
paths or options, field tables equal to what ``docs/generate_tables.py`` writes from the dataclasses' help).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
REGENERATE = ".venv/bin/python docs/generate_tables.py"


def _generator():
    spec = importlib.util.spec_from_file_location("rankrl_docs_generate_tables", DOCS / "generate_tables.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the module need it registered
    spec.loader.exec_module(module)
    return module


gen = _generator()


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _documents() -> list[Path]:
    return [README, *_pages()]


def _strip_fences(text: str) -> str:
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.MULTILINE | re.DOTALL)


def _strip_code(text: str) -> str:
    """The text outside fenced code blocks and inline code spans (links there are not links)."""
    text = _strip_fences(text)
    return re.sub(r"`[^`\n]*`", "", text)


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _links(path: Path) -> list[str]:
    return _LINK.findall(_strip_code(path.read_text(encoding="utf-8")))


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped (``-``, ``_`` kept), spaces become ``-``."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _strip_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE):
        slug = _slug(match.group(1))
        n = seen.get(slug, 0)
        anchors.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return anchors


def test_readme_is_at_most_300_lines():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 300, f"README.md has {lines} lines; move reference material into a docs/ page"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / link.split("#")[0]).resolve() for link in _links(README) if not link.startswith("#")}
    missing = [p.name for p in _pages() if p.resolve() not in linked]
    assert not missing, f"docs pages not linked from README.md (its Documentation table): {missing}"


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for doc in _documents():
        for link in _links(doc):
            if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # http:, https:, mailto:
                continue
            target, _, anchor = link.partition("#")
            path = (doc.parent / target).resolve() if target else doc
            if not path.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {link} (no file {target})")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{doc.relative_to(ROOT)}: {link} (no heading #{anchor} in {path.name})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_commands_are_makefile_targets():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
    used = set(re.findall(r"\bmake ([\w-]+)", text))
    assert used <= targets, f"README uses make targets the Makefile lacks: {sorted(used - targets)}"
    assert re.search(r"^demo:.*\n\t.*rankrl demo", makefile, flags=re.MULTILINE), "make demo: rankrl demo"


def test_readme_lists_every_command():
    from rankrl.core.cli import SUBCOMMANDS

    text = README.read_text(encoding="utf-8")
    missing = [name for name in SUBCOMMANDS if f"rankrl {name}" not in text]
    assert not missing, f"rankrl commands missing from README.md's Commands block: {missing}"


def test_readme_names_every_optional_extra():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    text = README.read_text(encoding="utf-8")
    missing = [name for name in extras if f"`{name}`" not in text]
    assert not missing, f"pyproject extras not named in README.md's Install section: {missing}"


def test_prompts_page_lists_every_shipped_template():
    from rankrl.prompts import available_templates

    text = (DOCS / "prompts.md").read_text(encoding="utf-8")
    missing = [name for name in available_templates() if f"| `{name}` |" not in text]
    assert not missing, f"templates missing from docs/prompts.md's Templates table: {missing}"


def test_rewards_page_names_every_registered_reward():
    from rankrl.rewards import REWARDS

    text = (DOCS / "rewards.md").read_text(encoding="utf-8")
    missing = [name for name in sorted(REWARDS) if f"`{name}`" not in text]
    assert not missing, f"rewards missing from docs/rewards.md: {missing}"


def test_evaluation_page_lists_every_strategy():
    from rankrl.eval.strategies import STRATEGIES

    text = (DOCS / "evaluation.md").read_text(encoding="utf-8")
    missing = [name for name in STRATEGIES if not re.search(rf"^\| `{name}[` ]", text, flags=re.MULTILINE)]
    assert not missing, f"strategies missing from docs/evaluation.md's Strategies table: {missing}"


def test_no_old_import_paths_or_removed_options():
    old = re.compile(
        r"^\s*(?:from|import) (?:data|eval|rl|prompts|rewards|core)(?:\.|\s|$)"  # bare top-level packages
        r"|-m (?:data|eval|rl|prompts|rewards)\.\w+"  # python -m rl.cli
        r"|--budget-seconds",  # removed from `rankrl demo`
        flags=re.MULTILINE,
    )
    hits = [
        f"{doc.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0).strip()}"
        for doc in _documents()
        for text in [doc.read_text(encoding="utf-8")]
        for m in old.finditer(text)
    ]
    assert not hits, "old names in the docs (use rankrl.<package>):\n" + "\n".join(hits)


def test_repository_paths_named_in_the_docs_exist():
    path = re.compile(r"(?<![\w./-])((?:rl|benchmarks|docs|tests|eval|data|prompts|rewards|core)/[\w./-]+"
                      r"\.(?:py|yaml|sh|json|jinja))\b")
    missing = sorted({
        f"{doc.relative_to(ROOT)}: {p}"
        for doc in _documents()
        for p in path.findall(doc.read_text(encoding="utf-8"))
        if not (ROOT / p).exists()
    })
    assert not missing, "files named in the docs that do not exist:\n" + "\n".join(missing)


def test_rankrl_imports_in_python_examples_exist():
    """Every ``from rankrl.x import a, b`` in a Python block names something that imports (not a submodule:
    ``from rankrl.rl import train`` must give the function, not the module ``rankrl/rl/train.py``)."""
    block = re.compile(r"^```(?:python|py)\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)
    stmt = re.compile(r"^from (rankrl(?:\.\w+)+) import ([\w, ]+)", flags=re.MULTILINE)
    bad = []
    for doc in _documents():
        for code in block.findall(doc.read_text(encoding="utf-8")):
            for module, names in stmt.findall(code):
                try:
                    mod = importlib.import_module(module)
                except ImportError as err:
                    bad.append(f"{doc.relative_to(ROOT)}: {module}: {err}")
                    continue
                for name in filter(None, (x.strip() for x in names.split(","))):
                    obj = getattr(mod, name, None)
                    if obj is None or isinstance(obj, types.ModuleType):
                        bad.append(f"{doc.relative_to(ROOT)}: {module}.{name}")
    assert not bad, "names in docs' Python examples that do not import:\n" + "\n".join(bad)


def test_readme_python_examples_run():
    """The README's ```python blocks are complete programs: they run as written, and the value a comment promises
    (``# [0, 1]``) is the value of the line's expression. Sketches that need a model are fenced ```py (their
    imports are still checked)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert blocks, "README.md has no Python example"
    for code in blocks:
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
        for line in code.splitlines():
            expression, _, promised = line.partition("  # ")
            if not promised.startswith("["):
                continue
            try:
                compiled = compile(expression.strip(), "README.md", "eval")
            except SyntaxError:  # a statement (import, assignment): nothing to compare
                continue
            value = eval(compiled, namespace)  # the README's own example, not model output
            assert repr(value) == promised.strip(), f"README.md: {line.strip()} gives {value!r}"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_dotted_rankrl_names_in_the_docs_resolve():
    """`rankrl.data.trec.write_run` and the like name a module or an object that exists."""
    name = re.compile(r"`(rankrl(?:\.\w+)+)(?:\(|`)")
    unresolved = sorted({
        f"{doc.relative_to(ROOT)}: {dotted}"
        for doc in _documents()
        for dotted in name.findall(doc.read_text(encoding="utf-8"))
        if dotted != "rankrl.json" and not _resolves(dotted)
    })
    assert not unresolved, "names in the docs that do not exist:\n" + "\n".join(unresolved)


# --- generated field tables -------------------------------------------------------------------------------


def test_generated_tables_are_fresh():
    stale = [t for page in _pages() for t in gen.tables(page) if t.stale]
    assert not stale, (
        "stale generated field tables: "
        + ", ".join(f"{t.page.name}:{t.line} ({t.target})" for t in stale)
        + f"; regenerate them with: {REGENERATE}"
    )


def test_the_main_config_tables_are_present():
    targets = {t.target for page in _pages() for t in gen.tables(page)}
    assert {"rankrl.rl.config:ScriptArguments", "rankrl.eval.config:EvalConfig"} <= targets


def test_every_config_dataclass_with_help_has_a_table():
    """A dataclass whose fields carry help texts is a configuration users set: the docs show its table."""
    targets = {t.target for page in _pages() for t in gen.tables(page)}
    documented: list[str] = []
    for package in ("core", "data", "eval", "prompts", "rewards", "rl"):
        for source in sorted((ROOT / package).rglob("*.py")):
            if '"help"' not in source.read_text(encoding="utf-8"):
                continue
            parts = source.relative_to(ROOT).with_suffix("").parts
            module = importlib.import_module(".".join(("rankrl", *parts)).removesuffix(".__init__"))
            documented += [
                f"{module.__name__}:{name}"
                for name, obj in vars(module).items()
                if isinstance(obj, type) and dataclasses.is_dataclass(obj)
                and obj.__module__ == module.__name__
                and any(f.metadata.get("help") for f in dataclasses.fields(obj))
            ]
    assert "rankrl.rl.config:ScriptArguments" in documented
    missing = sorted(set(documented) - targets)
    assert not missing, (
        f"config dataclasses without a generated table in docs/: {missing}; add the markers "
        "'<!-- BEGIN GENERATED fields module:Class -->' / '<!-- END GENERATED fields module:Class -->' "
        f"to the page of that topic and run: {REGENERATE}"
    )


@pytest.fixture
def config_module(tmp_path, monkeypatch):
    """A throwaway config module ``docs_fixture_cfg`` with one dataclass, importable by the generator."""
    (tmp_path / "docs_fixture_cfg.py").write_text(
        "from dataclasses import dataclass, field\n"
        "@dataclass\n"
        "class Cfg:\n"
        "    depth: int = field(default=100, metadata={'help': 'candidates kept <per query> | `a|b`'})\n"
        "    name: str | None = field(default=None, metadata={'help': 'a name'})\n"
        "    flag: bool = field(default=False, metadata={'help': 'on or off'})\n"
        "@dataclass\n"
        "class NoHelp:\n"
        "    depth: int = 1\n"
        "@dataclass\n"
        "class Outer:\n"
        "    inner: Cfg\n"
        "    out: str = field(default='x', metadata={'help': 'where'})\n"
        "@dataclass\n"
        "class Sub(Cfg):\n"
        "    extra: int = field(default=2, metadata={'help': 'more'})\n"
        "def parser():\n"
        "    import argparse\n"
        "    p = argparse.ArgumentParser()\n"
        "    build = p.add_subparsers().add_parser('build')\n"
        "    build.add_argument('--out-dir', '--out_dir', '-o', dest='out')\n"
        "    return p\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "docs_fixture_cfg", raising=False)
    return tmp_path


def _page(folder: Path, body: str) -> Path:
    docs = folder / "docs"
    docs.mkdir(exist_ok=True)
    page = docs / "page.md"
    page.write_text(
        "# Page\n\nbefore\n\n<!-- BEGIN GENERATED fields docs_fixture_cfg:Cfg -->\n"
        f"{body}<!-- END GENERATED fields docs_fixture_cfg:Cfg -->\n\nafter\n",
        encoding="utf-8",
    )
    return page


def test_render_shows_each_field_with_type_default_and_escaped_help(config_module):
    import docs_fixture_cfg

    table = gen.render(docs_fixture_cfg.Cfg)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `depth` | `int` | `100` | candidates kept &lt;per query&gt; \\| `a\\|b` |",
        "| `name` | `str \\| None` | – | a name |",
        "| `flag` | `bool` | `false` | on or off |",
    ]


def test_render_points_to_a_nested_dataclass_and_shows_subcommand_flags(config_module):
    import docs_fixture_cfg

    rows = [line for line in gen.render(docs_fixture_cfg.Outer, docs_fixture_cfg.parser).splitlines()
            if line.startswith("| `")]
    assert rows == [
        "| `inner` | (library only) | `Cfg` | (required) | the fields of `Cfg` (its own table) |",
        "| `out` | `--out-dir` | `str` | `x` | where |",
    ]


def test_render_lists_inherited_fields_once_in_the_base_table(config_module):
    import docs_fixture_cfg

    rows = [line for line in gen.render(docs_fixture_cfg.Sub).splitlines() if line.startswith("| ")][1:]
    assert rows == [
        "| (inherited) | `Cfg` |  | every field of `Cfg`, described in its own table |",
        "| `extra` | `int` | `2` | more |",
    ]


def test_a_stale_table_is_reported_with_the_command_and_then_regenerated(config_module, capsys):
    page = _page(config_module, "| old | table |\n")
    assert gen.main(["--check", "--docs", str(page.parent)]) == 1
    err = capsys.readouterr().err
    assert "page.md:5: table of docs_fixture_cfg:Cfg is stale" in err
    assert "python docs/generate_tables.py" in err
    assert "| old | table |" in page.read_text()  # --check changes nothing

    assert gen.main(["--docs", str(page.parent)]) == 0
    text = page.read_text()
    assert "| old | table |" not in text and "| `flag` | `bool` | `false` | on or off |" in text
    assert text.startswith("# Page\n\nbefore\n\n<!-- BEGIN") and text.endswith("-->\n\nafter\n")
    assert gen.main(["--check", "--docs", str(page.parent)]) == 0
    assert gen.main(["--docs", str(page.parent)]) == 0 and page.read_text() == text  # idempotent


def test_a_field_without_help_or_a_broken_marker_is_an_error(config_module, capsys):
    page = _page(config_module, "")
    page.write_text(page.read_text().replace("docs_fixture_cfg:Cfg", "docs_fixture_cfg:NoHelp"))
    assert gen.main(["--check", "--docs", str(page.parent)]) == 2
    assert "no metadata help for field(s) depth" in capsys.readouterr().err

    page.write_text("<!-- BEGIN GENERATED fields docs_fixture_cfg:Cfg -->\nno end\n")
    assert gen.main(["--docs", str(page.parent)]) == 2
    end = "<!-- END GENERATED fields docs_fixture_cfg:Cfg -->"
    assert f"page.md:1: no closing '{end}'" in capsys.readouterr().err
    assert page.read_text() == "<!-- BEGIN GENERATED fields docs_fixture_cfg:Cfg -->\nno end\n"

    page.write_text("<!-- BEGIN GENERATED fields docs_fixture_cfg:Missing -->\n"
                    "<!-- END GENERATED fields docs_fixture_cfg:Missing -->\n")
    assert gen.main(["--docs", str(page.parent)]) == 2
    assert "cannot load docs_fixture_cfg:Missing" in capsys.readouterr().err
