"""Fixture writers: tiny files in each dataset's on-disk layout, for tests and examples.

Each ``write_*_fixture(root, ...)`` writes a small, deterministic, *fake* copy of a dataset
under ``root`` in exactly the layout its loader in :mod:`carbide.datasets` reads (so loaders,
CLIs and reproductions can be exercised without the real data). Nothing here is used by the
library itself.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import re
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .._imports import optional_import
from ..datasets._root import manifest_files
from ..datasets.cifar10 import CIFAR10_CLASSES
from ..datasets.fashion_mnist import _SPLITS, _idx_bytes
from ..datasets.femnist import FEMNIST_NUM_CLASSES
from ..datasets.nasbench import _NB101_VERTICES
from ..datasets.planetoid import _NUM_VAL, PLANETOID_NAMES, _check_name
from ..datasets.pv import _pandas
from ..exceptions import InvalidConfigError

__all__ = [
    "write_cifar10_fixture",
    "write_fashion_mnist_fixture",
    "write_femnist_fixture",
    "write_nasbench101_fixture",
    "write_nasbench201_fixture",
    "write_openfoam_fixture",
    "write_planetoid_fixture",
    "write_pv_fixture",
]


def write_fashion_mnist_fixture(
    root: str | os.PathLike[str], *, num_train: int = 20, num_test: int = 10, seed: int = 0
) -> Path:
    """Write a tiny synthetic Fashion-MNIST in the original layout.

    Writes the four gzip idx files under ``<root>/fashion-mnist/`` (byte-for-byte deterministic:
    gzip timestamps are zeroed). Image ``i`` has label ``i % 10``, random pixels, and its top-left
    pixel set to ``label`` so tests can check that images and labels stay aligned.

    Args:
        root: data root to write under (created if needed).
        num_train: images in the train split.
        num_test: images in the test split.
        seed: seed of the random pixels.

    Returns:
        The ``fashion-mnist`` folder written.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    folder = Path(root) / "fashion-mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", num_train), ("test", num_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = labels
        prefix = _SPLITS[split]
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = gzip.compress(_idx_bytes(array), mtime=0)
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(data)
    return folder


def write_planetoid_fixture(
    root: str | os.PathLike[str],
    name: str = "cora",
    *,
    num_features: int = 12,
    num_classes: int = 3,
    train_per_class: int = 2,
    num_unlabeled: int = 6,
    num_test: int = 12,
    seed: int = 0,
) -> Path:
    """Write a tiny synthetic Planetoid dataset in the original pickle layout.

    Writes ``<root>/planetoid/<Cora|CiteSeer>/raw/ind.<name>.*`` like the originals: scipy CSR
    ``float32`` matrices for ``x``/``tx``/``allx``, one-hot ``int32`` arrays for
    ``y``/``ty``/``ally``, a ``defaultdict(list)`` adjacency for ``graph`` (symmetric, with one
    duplicate edge and one self-loop that the reader drops), a shuffled text ``test.index``;
    pickle protocol 2. Node ``i`` has label ``i % num_classes`` and feature ``label`` set, so
    labels can be checked against features. For ``"citeseer"`` two ids inside the test range
    are left out of ``test.index`` (isolated nodes, as in the real CiteSeer).

    Because the standard split always takes 500 validation nodes after the training nodes, the
    graph has ``num_classes * train_per_class + 500 + num_unlabeled + num_test`` nodes
    (+2 for CiteSeer); with the defaults 524 (526), a few kB on disk.

    Args:
        root: data root to write under (created if needed).
        name: ``"cora"`` or ``"citeseer"``.
        num_features: feature columns (at least ``num_classes``).
        num_classes: number of classes.
        train_per_class: labelled training nodes per class.
        num_unlabeled: nodes in ``allx`` after the validation nodes.
        num_test: test nodes.
        seed: seed of the random edges and extra features.

    Returns:
        The ``raw`` folder written.
    """
    import pickle
    from collections import defaultdict

    import numpy as np
    import scipy.sparse as sp

    key = _check_name(name)
    if num_features < num_classes or num_classes < 2 or train_per_class < 1 or num_test < 1:
        raise InvalidConfigError(
            f"need num_classes >= 2, num_features >= num_classes, train_per_class >= 1 and "
            f"num_test >= 1; got {num_classes}, {num_features}, {train_per_class}, {num_test}"
        )
    rng = np.random.default_rng(seed)
    n_train = num_classes * train_per_class
    n_all = n_train + _NUM_VAL + num_unlabeled
    gaps = 2 if key == "citeseer" else 0
    n = n_all + num_test + gaps

    labels = np.arange(n) % num_classes
    feats = (rng.random((n, num_features)) < 0.2).astype(np.float32)
    feats[np.arange(n), labels] = 1.0
    onehot = np.eye(num_classes, dtype=np.int32)[labels]

    test_range = np.arange(n_all, n)
    isolated = test_range[1 : 1 + gaps * 3 : 3]  # two ids strictly inside the range
    test_ids = rng.permutation(np.setdiff1d(test_range, isolated))

    # every node is a key, as in the originals
    graph: defaultdict[int, list[int]] = defaultdict(list, {i: [] for i in range(n)})
    connected = np.setdiff1d(np.arange(n), isolated)
    for i, j in zip(connected[:-1], connected[1:], strict=True):  # a path: no isolated nodes
        graph[int(i)].append(int(j))
        graph[int(j)].append(int(i))
    for _ in range(n):
        i, j = (int(v) for v in rng.choice(connected, size=2, replace=False))
        if j not in graph[i]:
            graph[i].append(j)
            graph[j].append(i)
    first = int(connected[0])
    graph[first].append(graph[first][0])  # a duplicate, dropped by coalescing
    graph[first].append(first)  # a self-loop, dropped by the reader

    raw = Path(root) / "planetoid" / PLANETOID_NAMES[key] / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    # row k of tx/ty belongs to node test.index[k] (the ids are shuffled, as in the originals)
    objects = {
        "x": sp.csr_matrix(feats[:n_train]),
        "y": onehot[:n_train],
        "allx": sp.csr_matrix(feats[:n_all]),
        "ally": onehot[:n_all],
        "tx": sp.csr_matrix(feats[test_ids]),
        "ty": onehot[test_ids],
        "graph": graph,
    }
    for suffix, obj in objects.items():
        with open(raw / f"ind.{key}.{suffix}", "wb") as fh:
            pickle.dump(obj, fh, protocol=2)
    (raw / f"ind.{key}.test.index").write_text(
        "".join(f"{int(i)}\n" for i in test_ids), encoding="ascii"
    )
    return raw


def write_nasbench201_fixture(
    root: str | os.PathLike[str], *, num_cells: int = 40, seed: int = 0
) -> Path:
    """Write a tiny synthetic NAS-Bench-201 pickle at ``<root>/nasbench201/cifar10.pkl``.

    Cells are the first ``num_cells`` keys in order (``"000000"``, ``"000001"``, ...); cell
    number ``i`` gets ``val_acc = [i, i + 1, i + 2]`` (mean ``i + 1``), or 2 seeds
    ``[i, i + 2]`` when ``i`` is odd; ``train_time`` ``100 + i``, ``latency`` ``0.01 * (i + 1)``
    and ``model_size`` ``0.1 * (i + 1)`` repeated per seed. ``seed`` is unused by the values
    (kept for a uniform fixture signature).

    Returns:
        The pickle written.
    """
    del seed
    table = {}
    for i in range(num_cells):
        key = "".join(str((i // 5**p) % 5) for p in reversed(range(6)))
        seeds = 2 if i % 2 else 3
        acc = [float(i), float(i + 1), float(i + 2)] if seeds == 3 else [float(i), float(i + 2)]
        table[key] = {
            "train_time": [100.0 + i] * seeds,
            "val_acc": acc,
            "latency": [0.01 * (i + 1)] * seeds,
            "model_size": [0.1 * (i + 1)] * seeds,
        }
    path = Path(root) / "nasbench201" / "cifar10.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(table, protocol=4))
    return path


def write_nasbench101_fixture(
    root: str | os.PathLike[str], *, num_cells: int = 5, seed: int = 0
) -> Path:
    """Write a tiny synthetic NASLib zero-cost JSON at ``<root>/nasbench101/zc_nasbench101.json``.

    Cell ``i`` is a chain ``input -> 5 ops -> output`` plus a skip edge ``0 -> 6``, with ops
    drawn by ``seed`` and edge ``0 -> i + 2`` added (so cells differ); metrics are
    ``val_accuracy = 90 + i``, ``flops = 10 * (i + 1)``, ``params = i + 1`` and random
    zero-cost proxies.

    Returns:
        The JSON file written.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    n = _NB101_VERTICES
    cells = {}
    if not 1 <= num_cells <= n - 2:
        raise InvalidConfigError(f"num_cells must be in 1..{n - 2}, got {num_cells}")
    for i in range(num_cells):
        matrix = np.zeros((n, n), dtype=int)
        for v in range(n - 1):
            matrix[v, v + 1] = 1
        matrix[0, n - 1] = 1
        matrix[0, i + 2] = 1
        ops = [0, *rng.integers(2, 5, size=n - 2).tolist(), 1]
        key = str(tuple(int(v) for v in (*matrix.reshape(-1), *ops)))
        proxies = {
            name: float(rng.normal())
            for name in ("epe_nas", "fisher", "grad_norm", "grasp", "jacov", "l2_norm", "plain",
                         "snip", "synflow")
        }
        cells[key] = {
            "flops": 10.0 * (i + 1), "params": float(i + 1), **proxies,
            "val_accuracy": 90.0 + i,
        }
    path = Path(root) / "nasbench101" / "zc_nasbench101.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"nasbench101": {"cifar10": cells}}), encoding="utf-8")
    return path


def write_cifar10_fixture(
    root: str | os.PathLike[str], *, train_per_class: int = 3, test_per_class: int = 2
) -> Path:
    """Write tiny synthetic CIFAR-10 tarballs in the original layout.

    Writes ``<root>/cifar10/cifar10_{train,test}_jpg.tar.gz`` holding
    ``cifar10/<split>/<class>/<nnnn>.jpg`` (32x32 RGB, quality 75). The tarballs are
    byte-for-byte deterministic, and their members are stored in reverse order so that the
    loader's sorting is exercised. Image ``n`` of class ``c`` is a flat colour with red =
    ``20 * c + 10``, green = ``10 * n + 5`` and blue = 128, so tests can check labels and order
    against pixels (flat colours survive JPEG within a few levels).

    Args:
        root: data root to write under (created if needed).
        train_per_class: images per class in the train split.
        test_per_class: images per class in the test split.

    Returns:
        The ``cifar10`` folder written.
    """
    import gzip

    import numpy as np
    from PIL import Image

    folder = Path(root) / "cifar10"
    folder.mkdir(parents=True, exist_ok=True)
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        members: list[tuple[str, bytes | None]] = [("cifar10", None), (f"cifar10/{split}", None)]
        for c, name in enumerate(CIFAR10_CLASSES):
            members.append((f"cifar10/{split}/{name}", None))
            for n in range(per_class):
                pixels = np.empty((32, 32, 3), dtype=np.uint8)
                pixels[...] = (20 * c + 10, 10 * n + 5, 128)
                buf = io.BytesIO()
                Image.fromarray(pixels, "RGB").save(buf, format="JPEG", quality=75)
                members.append((f"cifar10/{split}/{name}/{n:04d}.jpg", buf.getvalue()))
        dirs = [m for m in members if m[1] is None]
        files = [m for m in members if m[1] is not None][::-1]
        with open(folder / f"cifar10_{split}_jpg.tar.gz", "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0
        ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tf:
            for path, data in dirs + files:
                info = tarfile.TarInfo(path)
                info.mtime = 0
                if data is None:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tf.addfile(info)
                else:
                    info.size, info.mode = len(data), 0o644
                    tf.addfile(info, io.BytesIO(data))
    return folder


def write_pv_fixture(root: str | os.PathLike[str], *, hours: int = 6) -> Path:
    """Write tiny synthetic PV files in the shipped layout under ``<root>/pv/``.

    Values are chosen so bin means are easy to compute by hand (``m`` = minutes since the
    power's first timestamp, ``i = m / 15``, ``j = m / 30``):

    * system50 power (parquet, 15 min, from 2011-04-15 00:00-07:00, ``hours`` hours):
      ``ac_power_2 = i`` (float32), NaN at ``i = 5`` and ``i = 14``.
    * system50 weather (parquet, 30 min, from one hour before to one hour after the power):
      ``temp_air = j`` (NaN at ``j = 5``), ``ghi = 10 j``, ``ghi_clear = 20 j`` but 0 while
      ``m < 60``, ``dni_clear = 2 ghi_clear``, ``dhi_clear = 1``, plus Year..Minute.
    * serf-east power (csv, 15 min, from 2016-07-01 00:00-07:00, ``hours`` hours):
      ``ac_power = i`` with the row ``i = 6`` absent.
    * serf-east weather (csv, 15 min, same span): ``temp_air = i``, ``ghi = 10 i``,
      ``ghi_clear = 20 i``, ``dni_clear = 40 i``, ``dhi_clear = 1``, calendar columns first.

    Returns:
        The ``pv`` folder written.
    """
    pd = _pandas()
    import numpy as np

    optional_import("pyarrow", "forecast", purpose="writing parquet PV fixtures")
    folder = Path(root) / "pv"
    folder.mkdir(parents=True, exist_ok=True)
    tz = "UTC-07:00"
    n = 4 * hours

    def calendar(times: Any, dtype: str) -> dict[str, Any]:
        return {
            "Year": times.year.astype(dtype), "Month": times.month.astype(dtype),
            "Day": times.day.astype(dtype), "Hour": times.hour.astype(dtype),
            "Minute": times.minute.astype(dtype),
        }

    start = pd.Timestamp("2011-04-15 00:00", tz=tz)
    times = pd.date_range(start, periods=n, freq="15min")
    power = np.arange(n, dtype=np.float32)
    power[[5, 14]] = np.nan
    pd.DataFrame({"measured_on": times, "ac_power_2": power}).to_parquet(
        folder / "system_50_ac_power_2_full_DST.parquet", index=False
    )
    wtimes = pd.date_range(start - pd.Timedelta("1h"), start + pd.Timedelta(hours=hours + 1),
                           freq="30min", inclusive="left")
    j = np.asarray((wtimes - start) / pd.Timedelta("30min"), dtype=np.float32)
    temp = j.copy()
    temp[j == 5] = np.nan
    clear = np.where(j < 2, 0.0, 20 * j).astype(np.float32)
    weather = pd.DataFrame({
        "index": wtimes, **calendar(wtimes, "float32"),
        "temp_air": temp, "ghi": (10 * j).astype(np.float32), "ghi_clear": clear,
        "dni_clear": (2 * clear).astype(np.float32),
        "dhi_clear": np.ones_like(j, dtype=np.float32),
    })
    weather.to_parquet(folder / "system_50_ac_power_2_full_DST_psm3.parquet", index=False)

    start = pd.Timestamp("2016-07-01 00:00", tz=tz)
    times = pd.date_range(start, periods=n, freq="15min")
    i = np.arange(n, dtype=np.float64)
    keep = i != 6
    pd.DataFrame({"measured_on": times[keep], "ac_power": i[keep]}).to_csv(
        folder / "serf_east_15min_ac_power.csv", index=False
    )
    pd.DataFrame({
        "measured_on": times, **calendar(times, "float64"),
        "dhi_clear": np.ones(n), "temp_air": i, "dni_clear": 40 * i, "ghi_clear": 20 * i,
        "ghi": 10 * i,
    }).to_csv(folder / "serf_east_psm3_data.csv", index=False)
    return folder


def write_femnist_fixture(
    root: str | os.PathLike[str],
    *,
    writers_per_shard: int = 1,
    train_samples: int = 3,
    test_samples: int = 1,
    compress: bool | str = True,
    shards: Iterable[int] | None = None,
    seed: int = 0,
) -> Path:
    """Write a tiny synthetic FEMNIST in LEAF's layout and format.

    Writes ``<root>/femnist/{train,test}/all_data_K_niid_05_keep_0_{train,test}_9.json[.gz]``,
    by default for the same 20 shards ``K`` as the real data (so ``load_femnist(root,
    verify=False)`` reads it), with the same writers in train shard ``K`` and test shard ``K``.
    Pixels are ``k/255`` with a white (1.0) background; sample ``j`` of a writer has label
    ``(writer_index + j) % 62`` and its first pixel set to ``label / 255`` so tests can check
    that samples and labels stay aligned. Deterministic (gzip timestamps zeroed).

    Args:
        root: data root to write under (created if needed).
        writers_per_shard: writers in each shard; writer ids are ``f{index:04d}_00``.
        train_samples: samples per writer in the train split.
        test_samples: samples per writer in the test split.
        compress: ``True`` writes ``.json.gz`` (the shipped names), ``False`` plain ``.json``,
            ``"mixed"`` alternates plain and gzip shard by shard.
        shards: shard numbers ``K`` to write; ``None`` means the 20 shipped ones.
        seed: seed of the random strokes.

    Returns:
        The ``femnist`` folder written.
    """
    import numpy as np

    if compress not in (True, False, "mixed"):
        raise InvalidConfigError(f"compress must be True, False or 'mixed', got {compress!r}")
    if shards is None:
        names = manifest_files("femnist")
        shards = sorted({int(re.findall(r"all_data_(\d+)_", rel)[0]) for rel in names})
    rng = np.random.default_rng(seed)
    folder = Path(root) / "femnist"
    writer = 0
    for i, shard in enumerate(shards):
        users = [f"f{writer + w:04d}_00" for w in range(writers_per_shard)]
        gz = compress is True or (compress == "mixed" and i % 2 == 1)
        for split, n in (("train", train_samples), ("test", test_samples)):
            user_data = {}
            for w, user in enumerate(users):
                labels = [(writer + w + j) % FEMNIST_NUM_CLASSES for j in range(n)]
                pixels = np.full((n, 784), 255, dtype=np.int64)
                strokes = rng.random((n, 784)) < 0.2
                pixels[strokes] = rng.integers(0, 255, size=int(strokes.sum()))
                pixels[:, 0] = labels
                user_data[user] = {"x": (pixels / 255.0).tolist(), "y": labels}
            doc = {"users": users, "num_samples": [n] * len(users), "user_data": user_data}
            raw = json.dumps(doc).encode()
            name = f"all_data_{shard}_niid_05_keep_0_{split}_9.json"
            path = folder / split / (name + (".gz" if gz else ""))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
        writer += writers_per_shard
    return folder


def write_openfoam_fixture(
    root: str | os.PathLike[str], *, num_points: int = 6, times: Sequence[float] | None = None
) -> Path:
    """Write tiny synthetic snapshots in the shipped layout under ``<root>/openfoam-buildings``.

    By default the 20 shipped names ``velocity0.20.csv.gz`` .. ``velocity0.39.csv.gz`` (gzip,
    deterministic), with the real header. Point ``p`` sits at ``(p, 2 p, 0)``; at time ``t``
    field number ``f`` (in header order ``U:0, U:1, U:2, epsilon, k, nut, p``) at point ``p``
    is ``100 t + 10 f + p`` (``t`` the time, e.g. 0.25 -> 25), so every value can be checked.

    Returns:
        The ``openfoam-buildings`` folder written.
    """
    import numpy as np

    times = [round(0.20 + 0.01 * i, 2) for i in range(20)] if times is None else list(times)
    folder = Path(root) / "openfoam-buildings"
    folder.mkdir(parents=True, exist_ok=True)
    names = ("U:0", "U:1", "U:2", "epsilon", "k", "nut", "p")
    header = ",".join(f'"{n}"' for n in (*names, "Points:0", "Points:1", "Points:2"))
    p = np.arange(num_points, dtype=np.float64)
    for t in times:
        cols = [100 * t + 10 * f + p for f in range(len(names))] + [p, 2 * p, 0 * p]
        rows = np.stack(cols, axis=1)
        lines = [header] + [",".join(f"{v:.6g}" for v in row) for row in rows]
        data = ("\n".join(lines) + "\n").encode()
        (folder / f"velocity{t:.2f}.csv.gz").write_bytes(gzip.compress(data, mtime=0))
    return folder


def write_cifar10_python_fixture(
    root: str | os.PathLike[str], *, train_per_class: int = 3, test_per_class: int = 2
) -> Path:
    """Write a tiny synthetic ``<root>/cifar10/cifar-10-python.tar.gz`` in the official format.

    ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch`` are pickled dicts (protocol 2,
    bytes keys, as the original reads under ``encoding="bytes"``) with ``data`` uint8
    ``(N, 3072)`` and ``labels``; train images are dealt round-robin over the five batches, the
    classes interleaved (so the loader's sort by label is exercised). Image ``n`` of class ``c``
    is flat with red = ``20 * c + 10``, green = ``10 * n + 5`` and blue = 128 (exact: no JPEG).
    Byte-for-byte deterministic.

    Returns:
        The tarball written.
    """
    import gzip

    import numpy as np

    def images(per_class: int) -> list[tuple[int, np.ndarray]]:
        out = []
        for n in range(per_class):
            for c in range(len(CIFAR10_CLASSES)):
                px = np.empty((3, 32, 32), dtype=np.uint8)
                px[0], px[1], px[2] = 20 * c + 10, 10 * n + 5, 128
                out.append((c, px.reshape(-1)))
        return out

    train = images(train_per_class)
    batches = {f"data_batch_{i + 1}": train[i::5] for i in range(5)}
    batches["test_batch"] = images(test_per_class)
    folder = Path(root) / "cifar10"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-python.tar.gz"
    with open(path, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0
    ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, rows in batches.items():
            doc = {
                b"batch_label": name.encode(),
                b"labels": [c for c, _ in rows],
                b"data": np.stack([r for _, r in rows]) if rows
                else np.empty((0, 3072), np.uint8),
            }
            data = pickle.dumps(doc, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tf.addfile(info, io.BytesIO(data))
    return path
