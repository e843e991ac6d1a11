"""The one shape every built system follows (README "Adding a system").

Parametrized over the entries of :data:`carbide.systems.SYSTEMS`: a planned system is skipped
until it is built, and then has to pass every check here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import re
import subprocess
import sys
import typing
from pathlib import Path

import click
import pytest

from carbide import systems

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "docs" / "reports"

SYSTEM_PARAMS = [pytest.param(n, id=n) for n in systems.SYSTEMS]


def _built(name: str) -> systems.SystemInfo:
    info = systems.SYSTEMS[name]
    if not info.built:
        pytest.skip(f"{name} is planned: the contract applies once it is built")
    return info


def _repro_module(info: systems.SystemInfo):
    return importlib.import_module(info.repro.partition(":")[0])


def _group(info: systems.SystemInfo) -> click.Group:
    group = systems.load_entry_point(info.cli)
    assert isinstance(group, click.Group) and group.name == info.name
    return group


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_run_repro_has_the_one_signature(name):
    info = _built(name)
    run_repro = systems.load_entry_point(info.repro)
    params = inspect.signature(run_repro).parameters
    assert [(p.name, p.kind, p.default) for p in params.values()] == [
        ("out", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("quick", inspect.Parameter.KEYWORD_ONLY, False),
        ("seed", inspect.Parameter.KEYWORD_ONLY, 0),
        ("plan", inspect.Parameter.KEYWORD_ONLY, None),
        ("root", inspect.Parameter.KEYWORD_ONLY, None),
    ]


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_repro_module_has_plans_run_plan_and_render(name):
    mod = _repro_module(_built(name))
    plan_cls = mod.ReproPlan
    assert dataclasses.is_dataclass(plan_cls) and plan_cls.__dataclass_params__.frozen
    fields = {f.name: f for f in dataclasses.fields(plan_cls)}
    assert "expected_minutes" in fields
    assert typing.get_type_hints(plan_cls)["expected_minutes"] is float
    for plan in (mod.QUICK_PLAN, mod.FULL_PLAN):
        assert isinstance(plan, plan_cls)
        assert plan.expected_minutes > 0, "state the measured wall time of the plan"
        for f in dataclasses.fields(plan):  # tuples, not lists: plans are hashable values
            assert not isinstance(getattr(plan, f.name), list), f.name
    # issue 16: `carbide repro all --quick` <= 15 min over ten systems, i.e. about 1.5 min
    # each (a system a little over is fine while the sum stays in budget: see the next test)
    assert mod.QUICK_PLAN.expected_minutes <= 2.0
    run_plan = inspect.signature(mod.run_plan).parameters
    assert list(run_plan)[0] == "plan"
    assert run_plan["seed"].kind is inspect.Parameter.KEYWORD_ONLY
    assert run_plan["seed"].default == 0 and run_plan["root"].default is None
    assert list(inspect.signature(mod.render).parameters) == ["rows", "plan"]


def test_quick_reproductions_fit_fifteen_minutes():
    stated = {n: systems.quick_minutes(n) for n, s in systems.SYSTEMS.items() if s.built}
    assert sum(m or 0.0 for m in stated.values()) <= 15.0, stated


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_package_imports_lean_and_every_public_name_resolves(name):
    info = _built(name)
    probe = (
        "import sys, importlib\n"
        f"mod = importlib.import_module({info.package!r})\n"
        "heavy = sorted(m for m in ('torch', 'numpy', 'pandas', 'torch_geometric', 'ray', "
        "'pyspark', 'redis', 'matplotlib') if m in sys.modules)\n"
        "assert not heavy, f'importing the package imported {heavy}'\n"
        "assert mod.__all__, 'no __all__'\n"
        "missing = [n for n in mod.__all__ if not hasattr(mod, n)]\n"
        "assert not missing, f'__all__ names that do not resolve: {missing}'\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_cli_group_has_repro_and_render(name):
    group = _group(_built(name))
    repro = group.commands.get("repro")
    assert repro is not None, "no `repro` subcommand"
    opts = {p.name: p for p in repro.params}
    assert {"quick", "seed", "out"} <= set(opts)
    assert opts["quick"].is_flag and opts["out"].required
    assert isinstance(opts["seed"].type, click.IntRange) and opts["seed"].type.min == 0
    assert "render" in group.commands, "no `render` subcommand"


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_every_seed_option_is_a_non_negative_integer(name):
    group = _group(_built(name))
    for cmd_name, cmd in group.commands.items():
        for p in cmd.params:
            if p.name == "seed":
                assert isinstance(p.type, click.IntRange) and p.type.min == 0, cmd_name


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_example_and_benchmark_exist(name):
    _built(name)
    assert (ROOT / "examples" / f"{name}_quickstart.py").is_file()
    assert sorted((ROOT / "benchmarks").glob(f"{name}_*.py")), f"no benchmarks/{name}_*.py"


def _readme_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("| system (paper) |")
    end = text.index("\n\n", start)
    return text[start:end + 1]


def test_readme_table_is_generated_from_systems():
    expected = systems.systems_table()
    assert _readme_table() == expected, (
        "README's systems table differs from carbide.systems; paste the output of\n"
        "python -c 'from carbide.systems import systems_table; print(systems_table())'\n"
        + expected)


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_readme_row_matches_systems(name):
    info = _built(name)
    rows = [r for r in _readme_table().splitlines() if f"`carbide {name}`" in r]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[0] == f"{info.title} ({info.paper})" and cells[2] == f"`{info.package}`"
    assert cells[4] == "built"
    minutes = systems.quick_minutes(name)
    assert minutes is not None and cells[5] == f"{minutes:g} min"


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
@pytest.mark.parametrize("suffix", ["", "-quick"])
def test_committed_reports_exist_and_name_their_plan(name, suffix):
    _built(name)
    folder = REPORTS / f"{name}{suffix}"
    assert (folder / "report.md").is_file(), f"commit docs/reports/{name}{suffix}/report.md"
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert data["system"] == name
    assert isinstance(data["config"].get("plan"), dict), "results.json config has no plan"
    assert data["config"]["quick"] is (suffix == "-quick")


def _imports(tree: ast.AST, module: str) -> list[tuple[str, tuple[str, ...]]]:
    """``(absolute module, names)`` for every import in ``tree`` (relative ones resolved)."""
    out = []
    package = module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((a.name, ()) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            out.append((target, tuple(a.name for a in node.names)))
    return out


@pytest.mark.parametrize("name", SYSTEM_PARAMS)
def test_cli_imports_only_its_public_api_results_and_click(name):
    info = _built(name)
    module = info.cli.partition(":")[0]
    path = ROOT / "src" / Path(*module.split(".")).with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    public = set(importlib.import_module(info.package).__all__)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = []
    for target, names in _imports(tree, module):
        top = target.split(".")[0]
        if top in stdlib or top == "click" or target == "carbide.results":
            continue
        if target == info.package and set(names) <= public:
            continue
        bad.append(f"{target}: {', '.join(names) or '(module)'}")
    assert not bad, (f"{module} may import only {info.package}'s public API (its __all__), "
                     f"carbide.results, click and the standard library; it imports {bad}")


# ---------------------------------------------------------------- committed reports (16.4)

_NONFINITE = re.compile(r"(?<![\w.])-?(nan|inf)(?:x|%)?(?![\w])")  # Python's float spellings
_NUMBER = re.compile(r"\d")


def _report_params():
    params = []
    for path in sorted(REPORTS.glob("*/report.md")):
        params.append(pytest.param(path, id=path.parent.name))
    return params


@pytest.mark.parametrize("report", _report_params())
def test_committed_report_has_no_nonfinite_figures(report):
    bad = [line for line in report.read_text(encoding="utf-8").splitlines()
           if _NONFINITE.search(line)]
    assert not bad, f"{report} shows non-finite figures: {bad[:3]}"


@pytest.mark.parametrize("report", _report_params())
def test_committed_report_verdicts_come_with_their_figures(report):
    lines = report.read_text(encoding="utf-8").splitlines()
    header = next((i for i, line in enumerate(lines)
                   if line.startswith("| claim |") and "holds here" in line), None)
    if header is None:
        pytest.skip("no claim table")
    cols = [c.strip() for c in lines[header].strip("|").split("|")]
    ours, verdict = cols.index("ours"), cols.index("holds here")
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[verdict] in ("yes", "holds"):
            assert _NUMBER.search(cells[ours]), f"verdict without its figures: {line}"
            assert "no point" not in cells[ours] and "—" not in cells[ours], line
