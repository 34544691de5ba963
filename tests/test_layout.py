"""The package layout the code relies on: imports point down only, no code outside ``prompts/`` switches on a
paradigm's name, every package lists its public API, and the five public names import."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "data", "eval", "prompts", "rewards", "rl")
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "prompts": {"core"},
    "rewards": {"prompts", "core"},
    "data": {"prompts", "core"},
    "rl": {"data", "rewards", "prompts", "core"},
    "eval": {"data", "prompts", "core"},
}
EXCEPTIONS = {"rl/demo.py": {"eval"}}
"""The quickstart demo is the one orchestrator above both: it trains, then evaluates through ``rankrl.eval``'s
public API (``from rankrl.eval import ...`` only, checked below), never its CLI."""
PARADIGM_NAMES = {"setwise", "listwise", "pointwise", "groupwise", "elimination"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[tuple[int, str]]:
    """(line, rankrl package) of every ``rankrl.<package>`` import, module level or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "rankrl"
                                     else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "rankrl" and len(parts) > 1:
                out.add((node.lineno, parts[1]))
    return out


def test_imports_point_down_only():
    """prompts and core are leaves; rewards -> prompts/core; data -> prompts/core; rl -> data, rewards, prompts,
    core; eval -> data, prompts, core (eval never imports rl)."""
    bad = []
    for package in PACKAGES:
        for path in _modules(package):
            for line, target in _imported_packages(path):
                allowed = ALLOWED[package] | EXCEPTIONS.get(str(path.relative_to(ROOT)), set())
                if target != package and target not in allowed:
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {package} imports rankrl.{target}")
    assert not bad, "imports pointing up or sideways:\n" + "\n".join(sorted(bad))


def test_the_demo_uses_only_the_public_eval_api():
    tree = ast.parse((ROOT / "rl" / "demo.py").read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
               and n.module.startswith("rankrl.eval")}
    assert modules == {"rankrl.eval"}


def test_the_layering_check_sees_function_level_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from rankrl.rl.train import main\n    import rankrl.eval.api\n")
    assert _imported_packages(path) == {(2, "rl"), (3, "eval")}


def _name_switches(path: Path) -> list[str]:
    """String comparisons (``==``, ``!=``, ``in``, ``match`` cases) and dict keys that are paradigm names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

    def names_in(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value} & PARADIGM_NAMES
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return {n for e in node.elts for n in names_in(e)}
        return set()

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for name in names_in(node.left) | {n for c in node.comparators for n in names_in(c)}:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: compares with {name!r}")
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                for name in names_in(key) if key is not None else ():
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: dict key {name!r}")
        elif isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue):
            for name in names_in(node.pattern.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: match case {name!r}")
    return found


def test_no_code_outside_prompts_switches_on_a_paradigm_name():
    """What differs between paradigms is asked of the paradigm object (gold/random answer, one passage per prompt,
    scores, default strategy/merge/rewards), never decided by comparing its name."""
    found = [hit for package in PACKAGES if package != "prompts" for path in _modules(package)
             for hit in _name_switches(path)]
    assert not found, "switches on paradigm names outside prompts/:\n" + "\n".join(found)


def test_the_switch_check_finds_comparisons_and_keys(tmp_path):
    (tmp_path / "pkg").mkdir()
    path = tmp_path / "pkg" / "m.py"
    path.write_text('x = p.name == "pointwise"\ny = {"setwise": 1}\nz = n in ("listwise", "groupwise")\n'
                    'ok = get_paradigm("pointwise")\n')
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        hits = _name_switches(path)
    finally:
        ROOT = saved
    assert [h.split(": ", 1)[1] for h in hits] == ["compares with 'pointwise'", "dict key 'setwise'",
                                                   "compares with 'groupwise'", "compares with 'listwise'"] or \
        sorted(h.split(": ", 1)[1] for h in hits) == sorted(["compares with 'pointwise'", "dict key 'setwise'",
                                                             "compares with 'groupwise'", "compares with 'listwise'"])


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_lists_its_public_api(package):
    module = importlib.import_module(f"rankrl.{package}")
    assert isinstance(module.__all__, list) and module.__all__
    assert all(hasattr(module, name) for name in module.__all__)


def test_the_public_names_import_as_documented():
    import types

    from rankrl.data import build_rows, load_benchmark
    from rankrl.eval import evaluate, score
    from rankrl.prompts import get_paradigm
    from rankrl.rl import sft, train

    for obj in (build_rows, load_benchmark, evaluate, score, get_paradigm, train, sft):
        assert callable(obj) and not isinstance(obj, types.ModuleType)
    import rankrl.rl.train  # noqa: F401 - importing the command module must not rebind the API name
    from rankrl.rl import train as again
    assert again is train
