"""Data partitioners and heterogeneity statistics for federated simulation.

The backdoor-under-heterogeneity study (Zawad et al., "Curse or Redemption? How Data
Heterogeneity Affects the Robustness of Federated Learning", AAAI 2021, arXiv 2102.00655)
controls how non-IID the clients' data are with a **Heterogeneity Index** ``HI`` in ``[0, 1]``:
``HI = 0`` is IID (every client sees every class in global proportions), ``HI = 1`` gives every
client a single class. This module turns ``HI`` into a partition (:func:`partition_hi`), offers
the usual alternatives (:func:`partition_iid`, :func:`partition_dirichlet`, and the natural
per-writer partition of LEAF data via :func:`partition_federated`), and measures the
heterogeneity of *any* partition with one set of numbers (:func:`heterogeneity`), so that a
natural partition such as FEMNIST's writers can be placed on the same ``HI`` axis.

Partitioners take the labels of the whole training set (``(N,)`` integers, a numpy array or a
torch tensor) and return one ``int64`` array of **sorted sample indices** per client. The
arrays are disjoint, cover every index exactly once, and none is empty (a client that would
end up with no data raises :class:`~carbide.exceptions.InvalidConfigError` instead). Every
random choice comes from ``numpy.random.default_rng(seed)``, so equal seeds give equal
partitions.

The CLI names a partition with a short string (:func:`parse_partition`): ``writers``, ``iid``,
``dirichlet:A`` or ``hi:H``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    from ..datasets._types import FederatedDataset

__all__ = [
    "PARTITION_FORMS",
    "PartitionSpec",
    "class_counts",
    "classes_per_client",
    "heterogeneity",
    "parse_partition",
    "partition_dirichlet",
    "partition_federated",
    "partition_hi",
    "partition_iid",
]

#: The partition strings :func:`parse_partition` accepts, as shown in error messages.
PARTITION_FORMS = "writers, iid, dirichlet:A (A > 0), hi:H (0 <= H <= 1)"

#: How many times :func:`partition_dirichlet` redraws before giving up.
_DIRICHLET_TRIES = 100


# --------------------------------------------------------------------------- helpers


def _as_labels(labels: Any) -> np.ndarray:
    """Labels as a 1-D ``int64`` numpy array of non-negative values (torch tensors accepted)."""
    if hasattr(labels, "detach"):  # a torch tensor; no torch import needed to recognise it
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise InvalidConfigError(f"labels must be 1-D of shape (N,), got shape {arr.shape}")
    if arr.size == 0:
        raise InvalidConfigError("labels is empty: there is nothing to partition")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidConfigError(f"labels must be integers, got dtype {arr.dtype}")
    if arr.min() < 0:
        raise InvalidConfigError(f"labels must be >= 0, got a label {int(arr.min())}")
    return arr.astype(np.int64, copy=False)


def _check_seed(seed: object) -> int:
    if isinstance(seed, np.integer):
        seed = int(seed)
    return check_int("seed", seed, 0)


def _check_num_clients(num_clients: object, n: int, per_client: int = 1) -> int:
    """``num_clients`` must be an int >= 1 with ``num_clients * per_client <= n``."""
    if isinstance(num_clients, np.integer):
        num_clients = int(num_clients)
    k = check_int("num_clients", num_clients, 1)
    if k * per_client > n:
        need = f"{per_client} sample(s) each" if per_client > 1 else "one sample each"
        raise InvalidConfigError(
            f"num_clients={k} is more than {n} samples can serve ({need}); "
            f"use at most {n // per_client} clients"
        )
    return k


def _finish(parts: list[list[np.ndarray]], what: str) -> list[np.ndarray]:
    """Concatenate and sort each client's chunks; refuse an empty client."""
    out = []
    for k, chunks in enumerate(parts):
        idx = np.sort(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.int64)
        if idx.size == 0:  # never hand a simulation a silent empty client
            raise InvalidConfigError(f"{what}: client {k} would get no samples; use fewer clients")
        out.append(idx.astype(np.int64, copy=False))
    return out


def _fmt_number(value: float) -> str:
    """Shortest text that parses back to ``value`` (``1`` rather than ``1.0``)."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


# --------------------------------------------------------------------------- partitioners


def partition_iid(labels: Any, num_clients: int, *, seed: int = 0) -> list[np.ndarray]:
    """Split the samples uniformly at random into ``num_clients`` near-equal parts.

    The IID baseline (``HI = 0`` in Zawad et al., AAAI 2021): indices are shuffled and cut
    into consecutive pieces whose sizes differ by at most one.

    Args:
        labels: ``(N,)`` integer labels (numpy array or torch tensor); only ``N`` is used.
        num_clients: number of clients ``K``, ``1 <= K <= N``.
        seed: seed of the shuffle (default 0).

    Returns:
        ``K`` sorted ``int64`` index arrays, disjoint and covering ``0 .. N-1``.

    Raises:
        InvalidConfigError: bad ``num_clients`` or ``seed``, or more clients than samples.
    """
    y = _as_labels(labels)
    k = _check_num_clients(num_clients, y.size)
    rng = np.random.default_rng(_check_seed(seed))
    pieces = np.array_split(rng.permutation(y.size), k)
    return _finish([[p] for p in pieces], "partition_iid")


def partition_dirichlet(labels: Any, num_clients: int, alpha: float, *, seed: int = 0,
                        min_size: int = 1) -> list[np.ndarray]:
    """Label-skewed split: each class is spread over the clients by a Dirichlet draw.

    For every class, proportions ``p ~ Dir(alpha * 1_K)`` over the ``K`` clients decide how
    many of that class's (shuffled) samples each client gets, the usual way of simulating
    label skew (Hsu, Qi & Brown, 2019, "Measuring the Effects of Non-Identical Data
    Distribution for Federated Visual Classification"; per-class form as in Yurochkin et al.,
    2019). Large ``alpha`` approaches IID; small ``alpha`` gives each class to few clients.
    The whole draw is repeated (at most 100 times) until every client has at least
    ``min_size`` samples.

    Args:
        labels: ``(N,)`` integer labels (numpy array or torch tensor).
        num_clients: number of clients ``K``, ``1 <= K * min_size <= N``.
        alpha: Dirichlet concentration, ``> 0``.
        seed: seed of the draws (default 0).
        min_size: least number of samples per client (default 1).

    Returns:
        ``K`` sorted ``int64`` index arrays, disjoint and covering ``0 .. N-1``.

    Raises:
        InvalidConfigError: bad arguments, or no draw in 100 gave every client ``min_size``
            samples (use a larger ``alpha`` or fewer clients).
    """
    y = _as_labels(labels)
    min_size = check_int("min_size", min_size, 1)
    k = _check_num_clients(num_clients, y.size, per_client=min_size)
    alpha = check_real("alpha", alpha, 0.0, math.inf, lo_open=True, hi_open=True)
    rng = np.random.default_rng(_check_seed(seed))
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    for _ in range(_DIRICHLET_TRIES):
        parts: list[list[np.ndarray]] = [[] for _ in range(k)]
        for idx in by_class:
            idx = rng.permutation(idx)
            p = rng.dirichlet(np.full(k, alpha))
            if not np.all(np.isfinite(p)) or p.sum() <= 0:  # underflow at tiny alpha
                p = np.zeros(k)
                p[rng.integers(k)] = 1.0
            cuts = np.round(np.cumsum(p)[:-1] / p.sum() * idx.size).astype(np.int64)
            for client, chunk in enumerate(np.split(idx, cuts)):
                if chunk.size:
                    parts[client].append(chunk)
        if min(sum(c.size for c in chunks) for chunks in parts) >= min_size:
            return _finish(parts, "partition_dirichlet")
    raise InvalidConfigError(
        f"partition_dirichlet: no draw in {_DIRICHLET_TRIES} gave each of {k} clients at least "
        f"min_size={min_size} samples with alpha={alpha!r}; use a larger alpha or fewer clients"
    )


def classes_per_client(hi: float, num_classes: int) -> int:
    """Number of classes a client holds at Heterogeneity Index ``hi``.

    ``c = round(C - HI * (C - 1))`` with halves rounded up, so ``HI = 0`` gives ``C`` (IID)
    and ``HI = 1`` gives 1 (Zawad et al., AAAI 2021). The ``HI`` a partition realises is
    ``(C - c) / (C - 1)``, equal to the nominal ``hi`` up to this rounding.

    Args:
        hi: Heterogeneity Index in ``[0, 1]``.
        num_classes: number of classes ``C >= 1``.

    Returns:
        ``c`` in ``1 .. C``.
    """
    hi = check_real("hi", hi, 0.0, 1.0)
    if isinstance(num_classes, np.integer):
        num_classes = int(num_classes)
    c_total = check_int("num_classes", num_classes, 1)
    # 1e-9 absorbs float noise such as 10 - (1/3) * 9 = 6.9999...
    c = math.floor(c_total - hi * (c_total - 1) + 0.5 + 1e-9)
    return min(max(c, 1), c_total)


def partition_hi(labels: Any, num_clients: int, hi: float, *, seed: int = 0
                 ) -> list[np.ndarray]:
    """Heterogeneity-Index partition: every client holds ``c`` classes.

    Following Zawad et al. (AAAI 2021), ``c = classes_per_client(hi, C)`` where ``C`` is the
    number of distinct labels present. Classes are dealt to clients like cards from a seeded
    permutation ``perm`` of the classes laid out in a ring: client ``k`` takes
    ``perm[(k * c + j) mod C]`` for ``j < c``. The ``K * c`` slots are consecutive positions on
    the ring, so every class is held by ``floor(K c / C)`` or ``ceil(K c / C)`` clients (as even
    as possible) and a client's ``c`` classes are distinct. Each class's samples are shuffled
    and split into near-equal pieces among its holders, the larger pieces going to the
    holders with the fewest samples so far, so client sizes stay near equal.

    ``HI = 0`` gives every client every class with per-class counts within one of each other
    (IID); ``HI = 1`` gives exactly one class per client.

    Args:
        labels: ``(N,)`` integer labels (numpy array or torch tensor).
        num_clients: number of clients ``K``, ``1 <= K <= N``.
        hi: Heterogeneity Index in ``[0, 1]``.
        seed: seed of the class permutation and the shuffles (default 0).

    Returns:
        ``K`` sorted ``int64`` index arrays, disjoint and covering ``0 .. N-1``.

    Raises:
        InvalidConfigError: bad arguments; ``K * c < C`` (some class would be held by no
            client: rather than drop data silently this raises, use more clients or a lower
            ``hi``); or a class has fewer samples than clients holding it.
    """
    y = _as_labels(labels)
    k = _check_num_clients(num_clients, y.size)
    classes = np.unique(y)
    n_cls = classes.size
    c = classes_per_client(hi, n_cls)
    if k * c < n_cls:
        raise InvalidConfigError(
            f"partition_hi: hi={hi!r} gives {c} class(es) per client, and {k} clients x {c} "
            f"< {n_cls} classes would leave classes unassigned; use at least "
            f"{math.ceil(n_cls / c)} clients or a lower hi"
        )
    rng = np.random.default_rng(_check_seed(seed))
    perm = rng.permutation(n_cls)
    holders: list[list[int]] = [[] for _ in range(n_cls)]
    for client in range(k):
        for slot in range(client * c, client * c + c):
            holders[perm[slot % n_cls]].append(client)

    parts: list[list[np.ndarray]] = [[] for _ in range(k)]
    sizes = np.zeros(k, dtype=np.int64)
    for pos in range(n_cls):  # ring order: deterministic given the seed
        ci = perm[pos]
        idx = rng.permutation(np.flatnonzero(y == classes[ci]))
        who = np.asarray(holders[ci])
        if idx.size < who.size:
            raise InvalidConfigError(
                f"partition_hi: class {int(classes[ci])} has {idx.size} samples but {who.size} "
                f"clients hold it at hi={hi!r}; use fewer clients or a higher hi"
            )
        # array_split puts the larger pieces first: give them to the smallest clients
        who = who[np.argsort(sizes[who], kind="stable")]
        for client, chunk in zip(who, np.array_split(idx, who.size), strict=True):
            parts[client].append(chunk)
            sizes[client] += chunk.size
    return _finish(parts, "partition_hi")


def partition_federated(data: FederatedDataset, num_clients: int | None = None, *,
                        seed: int = 0) -> list[str]:
    """Choose the writers (clients) of a LEAF-style dataset: its natural partition.

    FEMNIST and other LEAF datasets come already split by writer; this picks which writers
    take part. Writers with no training samples are skipped (they could not train).

    Args:
        data: a :class:`~carbide.datasets.FederatedDataset`.
        num_clients: how many writers to use; ``None`` (default) takes every writer with
            training data, else a seeded random sample of that many.
        seed: seed of the sample (default 0).

    Returns:
        Writer ids, in the dataset's own (stable) order.

    Raises:
        InvalidConfigError: no writer has training data, or ``num_clients`` is not an integer
            in ``1 ..`` the number of writers with training data.
    """
    counts = data.num_samples("train")
    eligible = [cid for cid in data.clients if counts[cid] > 0]
    if not eligible:
        raise InvalidConfigError("partition_federated: no writer has training samples")
    if num_clients is None:
        return eligible
    if isinstance(num_clients, np.integer):
        num_clients = int(num_clients)
    k = check_int("num_clients", num_clients, 1)
    if k > len(eligible):
        raise InvalidConfigError(
            f"num_clients={k} is more than the {len(eligible)} writers with training data; "
            f"use at most {len(eligible)} (or None for all)"
        )
    rng = np.random.default_rng(_check_seed(seed))
    chosen = np.sort(rng.choice(len(eligible), size=k, replace=False))
    return [eligible[i] for i in chosen]


# --------------------------------------------------------------------------- statistics


def class_counts(labels: Any, parts: list[Any], num_classes: int | None = None) -> np.ndarray:
    """Per-client class histogram.

    Args:
        labels: ``(N,)`` integer labels (numpy array or torch tensor).
        parts: one index array per client (as the partitioners return).
        num_classes: ``C``; default ``max(label) + 1``.

    Returns:
        ``int64`` array of shape ``(n_clients, C)``; entry ``[k, j]`` counts class ``j`` at
        client ``k``.
    """
    y = _as_labels(labels)
    if num_classes is None:
        num_classes = int(y.max()) + 1
    elif isinstance(num_classes, np.integer):
        num_classes = int(num_classes)
    n_cls = check_int("num_classes", num_classes, 1)
    if int(y.max()) >= n_cls:
        raise InvalidConfigError(
            f"num_classes={n_cls} but labels go up to {int(y.max())}; use num_classes >= "
            f"{int(y.max()) + 1}"
        )
    out = np.zeros((len(parts), n_cls), dtype=np.int64)
    for k, part in enumerate(parts):
        idx = part.detach().cpu().numpy() if hasattr(part, "detach") else np.asarray(part)
        out[k] = np.bincount(y[idx.astype(np.int64, copy=False)], minlength=n_cls)
    return out


def heterogeneity(counts: Any) -> dict[str, float]:
    """Measured heterogeneity of any partition, from its class counts.

    ``C`` is the number of classes present anywhere in ``counts`` (columns summing to 0 are
    ignored, so an IID split of a label subset still measures 0). For client ``k`` with label
    distribution ``p_k``, the effective number of classes is the perplexity
    ``c_eff = exp(H(p_k))`` (Shannon entropy in nats): exactly ``c`` for a client holding
    ``c`` classes equally, fewer when they are unequal. A :func:`partition_hi` split thus
    measures back to its nominal ``HI`` up to the rounding of ``c`` (and of uneven class
    pieces). Note that ``c_eff <= n_k``: a client with few samples cannot look diverse, so
    natural partitions with tiny clients (LEAF writers) measure high.

    Args:
        counts: ``(n_clients, C)`` non-negative counts, e.g. from :func:`class_counts`.
            Clients with no samples get zero weight.

    Returns:
        Plain floats:

        - ``"hi_measured"``: ``(C - c_eff) / (C - 1)`` averaged over clients weighted by
          sample count (0 when ``C == 1``); 0 = IID-like, 1 = one class per client.
        - ``"tv_to_global"``: sample-weighted mean total-variation distance
          ``0.5 * ||p_k - p||_1`` between each client's and the global label distribution,
          in ``[0, 1]``.
        - ``"classes_per_client_mean"``: mean number of classes with a nonzero count.
        - ``"samples_per_client_mean"``, ``"samples_per_client_std"``: over clients
          (population std).
    """
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InvalidConfigError(f"counts must have shape (n_clients, C), got {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0:
        raise InvalidConfigError("counts must be finite and >= 0")
    sizes = arr.sum(axis=1)
    total = sizes.sum()
    if total <= 0:
        raise InvalidConfigError("counts hold no samples")
    arr = arr[:, arr.sum(axis=0) > 0]
    n_cls = arr.shape[1]
    weights = sizes / total
    probs = np.divide(arr, sizes[:, None], out=np.zeros_like(arr), where=sizes[:, None] > 0)
    logs = np.log(probs, out=np.zeros_like(probs), where=probs > 0)
    c_eff = np.exp(-(probs * logs).sum(axis=1))
    hi = (n_cls - c_eff) / (n_cls - 1) if n_cls > 1 else np.zeros_like(c_eff)
    global_p = arr.sum(axis=0) / total
    tv = 0.5 * np.abs(probs - global_p).sum(axis=1)
    return {
        "hi_measured": float(np.clip((weights * hi).sum(), 0.0, 1.0)),
        "tv_to_global": float(np.clip((weights * tv).sum(), 0.0, 1.0)),
        "classes_per_client_mean": float((arr > 0).sum(axis=1).mean()),
        "samples_per_client_mean": float(sizes.mean()),
        "samples_per_client_std": float(sizes.std()),
    }


# --------------------------------------------------------------------------- CLI specs


@dataclass(frozen=True)
class PartitionSpec:
    """A partition named on the command line (see :func:`parse_partition`).

    Attributes:
        kind: ``"writers"``, ``"iid"``, ``"dirichlet"`` or ``"hi"``.
        value: ``alpha`` for ``"dirichlet"`` (``> 0``), ``HI`` for ``"hi"`` (in ``[0, 1]``),
            ``None`` otherwise.
    """

    kind: str
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("writers", "iid", "dirichlet", "hi"):
            raise InvalidConfigError(
                f"unknown partition kind {self.kind!r}; valid forms: {PARTITION_FORMS}"
            )
        if self.kind in ("writers", "iid"):
            if self.value is not None:
                raise InvalidConfigError(
                    f"partition {self.kind!r} takes no value, got {self.value!r}; "
                    f"valid forms: {PARTITION_FORMS}"
                )
        elif self.kind == "dirichlet":
            value = check_real("dirichlet alpha", self.value, 0.0, math.inf, lo_open=True,
                               hi_open=True)
            object.__setattr__(self, "value", value)
        else:
            object.__setattr__(self, "value", check_real("hi", self.value, 0.0, 1.0))

    @property
    def natural(self) -> bool:
        """Whether the partition comes from the dataset itself (``writers``)."""
        return self.kind == "writers"

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{_fmt_number(self.value)}"

    def split(self, labels: Any, num_clients: int, seed: int = 0) -> list[np.ndarray]:
        """Partition ``labels`` with this spec (see the ``partition_*`` functions).

        Raises:
            InvalidConfigError: for ``writers``, whose partition comes from the dataset
                (use :func:`partition_federated`), or for bad arguments.
        """
        if self.kind == "iid":
            return partition_iid(labels, num_clients, seed=seed)
        if self.kind == "dirichlet":
            return partition_dirichlet(labels, num_clients, self.value, seed=seed)
        if self.kind == "hi":
            return partition_hi(labels, num_clients, self.value, seed=seed)
        raise InvalidConfigError(
            "partition 'writers' is the natural per-writer split that comes from the dataset "
            "itself (LEAF/FEMNIST); use partition_federated(data, num_clients) instead of "
            "splitting labels"
        )


def parse_partition(spec: str) -> PartitionSpec:
    """Parse a CLI partition string into a :class:`PartitionSpec`.

    Valid forms: ``writers`` (natural LEAF partition), ``iid``, ``dirichlet:A`` with
    ``A > 0`` and ``hi:H`` with ``0 <= H <= 1``. ``str(parse_partition(s))`` gives the
    canonical form (e.g. ``"HI:0.50"`` -> ``"hi:0.5"``).

    Raises:
        InvalidConfigError: any other form; the message echoes ``spec`` and lists the forms.
    """
    if not isinstance(spec, str):
        raise InvalidConfigError(
            f"partition must be a string, got {spec!r}; valid forms: {PARTITION_FORMS}"
        )
    head, sep, tail = spec.strip().partition(":")
    kind = head.strip().lower()
    if kind not in ("writers", "iid", "dirichlet", "hi"):
        raise InvalidConfigError(f"invalid partition {spec!r}; valid forms: {PARTITION_FORMS}")
    if kind in ("writers", "iid"):
        if sep:
            raise InvalidConfigError(
                f"invalid partition {spec!r}: {kind!r} takes no value; "
                f"valid forms: {PARTITION_FORMS}"
            )
        return PartitionSpec(kind)
    try:
        value = float(tail.strip())
    except ValueError:
        raise InvalidConfigError(
            f"invalid partition {spec!r}: {kind!r} needs a number after ':'; "
            f"valid forms: {PARTITION_FORMS}"
        ) from None
    try:
        return PartitionSpec(kind, value)
    except InvalidConfigError as err:
        raise InvalidConfigError(
            f"invalid partition {spec!r}: {err}; valid forms: {PARTITION_FORMS}"
        ) from None
