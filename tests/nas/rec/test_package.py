from __future__ import annotations

import subprocess
import sys

import carbide.nas.rec as rec


def test_package_and_cli_are_light():
    code = ("import sys, carbide.nas.rec, carbide.nas.rec.cli; "
            "heavy = [m for m in ('torch', 'numpy', 'pandas', 'scipy') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_every_public_name_resolves():
    for name in rec.__all__:
        assert getattr(rec, name) is not None


def test_system_is_registered():
    from carbide.systems import get_system, load_entry_point

    info = get_system("nasrec")
    assert info.built and info.package == "carbide.nas.rec"
    assert load_entry_point(info.cli).name == "nasrec"
    assert callable(load_entry_point(info.repro))
