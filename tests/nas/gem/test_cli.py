import pickle

import pytest

from carbide.cli import main
from carbide.results import read_results
from tests.nas.gem.test_search import table as _table  # noqa: F401 - fixture import

table = _table


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture()
def bench_file(tmp_path, table):
    path = tmp_path / "nb201.pkl"
    path.write_bytes(pickle.dumps(dict(table._table)))
    return path


def test_search_writes_metrics_and_per_seed_rows(tmp_path, bench_file, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(["nasgem", "search", "--space", "nb201", "--benchmark",
                             str(bench_file), "--strategy", "rea", "--budget", "25",
                             "--seeds", "2", "--out", str(out)], capsys)
    assert code == 0, err
    res = read_results(out)
    assert res["metrics"]["queries"] == 25
    assert 0 <= res["metrics"]["regret"] <= res["metrics"]["optimum"]
    assert [r["seed"] for r in res["rows"]] == [0, 1]
    assert res["metrics"]["best_val_acc"] == pytest.approx(
        sum(r["best_val_acc"] for r in res["rows"]) / 2)
    assert (out / "curve.png").is_file() and "regret" in stdout


def test_search_nasgem_on_a_table_file(tmp_path, bench_file, capsys):
    code, _, err = run(["nasgem", "search", "--benchmark", str(bench_file), "--budget", "16",
                        "--seeds", "1", "--n-init", "8", "--top-k", "4", "--encoder-cells",
                        "60", "--encoder-steps", "30", "--out",
                        str(tmp_path / "g")], capsys)
    assert code == 0, err
    assert read_results(tmp_path / "g")["rows"][0]["queries"] == 16


@pytest.mark.parametrize("argv, message", [
    (["--budget", "5", "--n-init", "20"], "initial population"),
    (["--space", "cell:x"], "cell:N"),
    (["--strategy", "rea", "--budget", "3"], "initial population"),
])
def test_search_bad_input_is_one_line(tmp_path, bench_file, capsys, argv, message):
    code, _, err = run(["nasgem", "search", "--benchmark", str(bench_file), *argv, "--out",
                        str(tmp_path / "x")], capsys)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


def test_wrong_benchmark_format_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pkl"
    bad.write_text("not a pickle")
    code, _, err = run(["nasgem", "search", "--benchmark", str(bad), "--out",
                        str(tmp_path / "x")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "unpickle" in err


def test_embed_reports_spearman_and_kendall(tmp_path, capsys):
    out = tmp_path / "emb"
    code, stdout, err = run(["nasgem", "embed", "--space", "cell:9", "--train-cells", "80",
                             "--heldout-cells", "30", "--steps", "60", "--out", str(out)],
                            capsys)
    assert code == 0, err
    m = read_results(out)["metrics"]
    assert set(m) >= {"spearman", "kendall", "onehot_spearman", "onehot_kendall"}
    assert m["pairs"] == 30 * 29 // 2 and m["spearman"] > m["onehot_spearman"]
