"""Progress off a terminal: plain periodic lines for long tasks, silence for short ones."""

from __future__ import annotations

import pytest

from carbide.results import _progress, progress, track


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr(_progress.time, "monotonic", c)
    monkeypatch.setattr(_progress, "_last_line", 0.0)
    monkeypatch.delenv("CARBIDE_PROGRESS", raising=False)
    monkeypatch.setenv("CARBIDE_PROGRESS_INTERVAL", "10")
    return c


def test_long_task_prints_periodic_lines_with_time_left_and_an_end_line(clock, capsys):
    with progress() as bar:  # stderr is captured: not a terminal
        task = bar.add_task("train", total=4)
        for _ in range(4):
            clock.now += 6.0
            bar.advance(task)
    lines = capsys.readouterr().err.strip().splitlines()
    # t=12 (2/4) prints; t=18 is within 10 s of it; t=24 (4/4) is the end line
    assert lines == ["[carbide] train: 2/4 (50%), 12s elapsed, about 12s left",
                     "[carbide] train: 4/4 (100%), 24s elapsed, done"]


def test_plain_progress_can_be_driven_by_hand_like_rich(clock, capsys):
    bar = progress()
    bar.start()
    task = bar.add_task("search", total=2)
    clock.now += 20.0
    bar.advance(task, 2)
    bar.stop()
    assert capsys.readouterr().err.strip() == "[carbide] search: 2/2 (100%), 20s elapsed, done"


def test_short_task_prints_nothing(clock, capsys):
    for _ in track(range(3), "quick"):
        clock.now += 1.0
    assert capsys.readouterr().err == ""


def test_transient_task_has_no_end_line_and_unknown_totals_are_said(clock, capsys):
    with progress(transient=True) as bar:
        task = bar.add_task("epochs")
        clock.now += 11.0
        bar.update(task, advance=3, description="epoch 3")
    assert capsys.readouterr().err.strip() == ("[carbide] epoch 3: 3 done, 11s elapsed, "
                                               "total unknown")


def test_progress_zero_silences_and_bad_interval_is_named(clock, capsys, monkeypatch):
    monkeypatch.setenv("CARBIDE_PROGRESS", "0")
    for _ in track(range(2), "quiet"):
        clock.now += 100.0
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("CARBIDE_PROGRESS")
    monkeypatch.setenv("CARBIDE_PROGRESS_INTERVAL", "soon")
    from carbide.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="'soon'"):
        progress()
