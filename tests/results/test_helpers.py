from __future__ import annotations

import random

import pytest

from carbide.exceptions import InvalidConfigError
from carbide.results import environment, progress, progress_enabled, seed_everything, track


def test_seed_everything_makes_all_generators_repeat():
    import numpy as np
    import torch

    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    seed_everything(7)
    first = draw()
    seed_everything(7)
    assert draw() == first
    seed_everything(8)
    assert draw() != first


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(InvalidConfigError, match="seed"):
        seed_everything(bad)


def test_progress_is_quiet_off_a_terminal(capsys, monkeypatch):
    monkeypatch.delenv("CARBIDE_PROGRESS", raising=False)
    assert not progress_enabled()  # pytest captures stderr: not a terminal
    assert list(track(range(5), "work")) == [0, 1, 2, 3, 4]
    with progress() as bar:
        bar.add_task("x", total=1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_can_be_forced(monkeypatch):
    monkeypatch.setenv("CARBIDE_PROGRESS", "1")
    assert progress_enabled()
    monkeypatch.setenv("CARBIDE_PROGRESS", "0")
    assert not progress_enabled()


def test_environment_records_versions_and_threads():
    import torch  # noqa: F401  (imported: the record then includes torch's threads)

    env = environment()
    assert env["packages"]["carbide"]
    assert env["packages"]["torch"].startswith("2.")
    assert env["torch_threads"] >= 1
