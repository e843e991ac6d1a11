"""Robust aggregation rules as pure functions on stacked flat updates.

Every function takes the clients' updates as a float tensor ``(n, d)`` (row ``i`` = client
``i``'s flattened model delta, see :func:`carbide.federated.aggregation.flatten`) and returns
tensors on the same device. They are the defenses evaluated in "Curse or Redemption? How Data
Heterogeneity Affects the Robustness of Federated Learning" (Zawad et al., AAAI 2021,
arXiv 2102.00655); the :mod:`._wrappers` classes turn them into
:class:`~carbide.federated.aggregation.Aggregator` objects.

Inputs are assumed finite here; the wrappers call
:func:`~carbide.federated.aggregation.check_updates` first.
"""

from __future__ import annotations

import math

import torch

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError

__all__ = [
    "clip_updates",
    "coordinate_median",
    "foolsgold_weights",
    "gaussian_noise",
    "krum",
    "krum_scores",
    "multi_krum",
    "trimmed_mean",
]


def _check_matrix(updates: torch.Tensor) -> int:
    if not isinstance(updates, torch.Tensor) or updates.ndim != 2 or updates.shape[0] == 0:
        shape = tuple(updates.shape) if isinstance(updates, torch.Tensor) else type(updates)
        raise InvalidConfigError(f"updates must be a (n, d) tensor with n >= 1, got {shape}")
    return updates.shape[0]


def _check_krum_f(n: int, f: object) -> int:
    f = check_int("f", f, 0)
    if n <= 2 * f + 2:
        hint = f" (f <= {(n - 3) // 2} works for n={n})" if n >= 3 else ""
        raise InvalidConfigError(
            f"Krum needs n > 2f + 2; got n={n}, f={f}: lower f or sample more clients{hint}")
    return f


def krum_scores(updates: torch.Tensor, f: int) -> torch.Tensor:
    """Krum scores (Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant
    Gradient Descent", NeurIPS 2017).

    The score of update ``i`` is the sum of squared Euclidean distances to its ``n - f - 2``
    nearest other updates; a low score means the update sits inside a dense cluster.

    Args:
        updates: ``(n, d)`` client updates.
        f: the number of Byzantine clients tolerated, an int ``>= 0``.

    Returns:
        ``(n,)`` scores in float64 (squared distances of large updates lose digits in float32).

    Raises:
        InvalidConfigError: unless ``n > 2f + 2``.
    """
    n = _check_matrix(updates)
    f = _check_krum_f(n, f)
    x = updates.detach().to(torch.float64)
    # The direct difference form, not the ||a||^2 + ||b||^2 - 2ab expansion, which cancels
    # catastrophically for nearby updates.
    dist = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist").square()
    dist.fill_diagonal_(math.inf)
    nearest = torch.sort(dist, dim=1).values[:, : n - f - 2]
    return nearest.sum(dim=1)


def krum(updates: torch.Tensor, f: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Krum (Blanchard et al., NeurIPS 2017): the single update with the lowest
    :func:`krum_scores` score.

    Args:
        updates: ``(n, d)`` client updates.
        f: the number of Byzantine clients tolerated; needs ``n > 2f + 2``.

    Returns:
        ``(update (d,), selected)`` where ``selected`` is a one-element int64 index tensor
        (ties go to the lowest index).
    """
    selected = _lowest(krum_scores(updates, f), 1).to(updates.device)
    return updates[selected[0]].clone(), selected


def multi_krum(updates: torch.Tensor, f: int, m: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-Krum (Blanchard et al., NeurIPS 2017): the plain mean of the ``m`` updates with
    the lowest :func:`krum_scores` scores (scores computed once over all ``n`` updates).

    Args:
        updates: ``(n, d)`` client updates.
        f: the number of Byzantine clients tolerated; needs ``n > 2f + 2``.
        m: how many updates to average, ``1 <= m <= n``; ``None`` (default) means ``n - f``.

    Returns:
        ``(update (d,), selected)`` where ``selected`` holds the ``m`` chosen row indices in
        increasing score order (ties go to the lower index).
    """
    scores = krum_scores(updates, f)
    n = updates.shape[0]
    m = n - f if m is None else check_int("m", m, 1)
    if m > n:
        raise InvalidConfigError(f"Multi-Krum m must be <= n; got m={m}, n={n}: lower m")
    order = _lowest(scores, m).to(updates.device)
    return updates[order].mean(dim=0), order


def _lowest(scores: torch.Tensor, m: int) -> torch.Tensor:
    """Indices of the ``m`` lowest scores, lowest first; ties go to the lower index."""
    return torch.sort(scores, stable=True).indices[:m]


def _rank_share(updates: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """``(n,)`` float: per client, the fraction of coordinates whose value ranks in
    ``[lo, hi)`` of its column (ties broken by row index)."""
    n, d = updates.shape
    idx = torch.sort(updates, dim=0, stable=True).indices[lo:hi]
    return torch.bincount(idx.flatten(), minlength=n).to(torch.float64) / max(d, 1)


def coordinate_median(updates: torch.Tensor) -> torch.Tensor:
    """Coordinate-wise median (Yin et al., "Byzantine-Robust Distributed Learning: Towards
    Optimal Statistical Rates", ICML 2018).

    For even ``n`` each coordinate is the mean of its two middle values (``torch.median``
    would return the lower one, biasing the aggregate).

    Args:
        updates: ``(n, d)`` client updates.

    Returns:
        ``(d,)`` the per-coordinate median.
    """
    n = _check_matrix(updates)
    s = torch.sort(updates, dim=0).values
    if n % 2:
        return s[n // 2].clone()
    return (s[n // 2 - 1] + s[n // 2]) / 2


def trimmed_mean(updates: torch.Tensor, b: int) -> torch.Tensor:
    """Coordinate-wise trimmed mean (Yin et al., ICML 2018).

    In each coordinate the ``b`` largest and ``b`` smallest values are dropped and the
    remaining ``n - 2b`` are averaged.

    Args:
        updates: ``(n, d)`` client updates.
        b: how many values to drop at each end, an int ``>= 0``; needs ``n > 2b``.

    Returns:
        ``(d,)`` the trimmed mean.
    """
    n = _check_matrix(updates)
    b = check_int("b", b, 0)
    if n <= 2 * b:
        raise InvalidConfigError(
            f"trimmed mean needs n > 2b; got n={n}, b={b}: lower b (b <= {(n - 1) // 2}) "
            "or sample more clients")
    s = torch.sort(updates, dim=0).values
    return s[b:n - b].mean(dim=0)


def clip_updates(updates: torch.Tensor, max_norm: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Norm clipping (Sun et al., "Can You Really Backdoor Federated Learning?", 2019).

    Each row is scaled by ``min(1, max_norm / ||row||)`` so its L2 norm is at most
    ``max_norm``; rows already inside the ball are left untouched.

    Args:
        updates: ``(n, d)`` client updates.
        max_norm: the norm bound, ``> 0``.

    Returns:
        ``(clipped (n, d), factors (n,))`` with the scale applied to each row (1 = unclipped).
    """
    _check_matrix(updates)
    max_norm = check_real("max_norm", max_norm, 0.0, math.inf, lo_open=True, hi_open=True)
    norms = torch.linalg.vector_norm(updates, dim=1)
    # A zero row divides to inf; the clamp turns that into factor 1.
    factors = torch.clamp(max_norm / norms, max=1.0)
    return updates * factors.unsqueeze(1), factors


def gaussian_noise(vector: torch.Tensor, std: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Weak differential privacy (Sun et al., 2019): ``vector + N(0, std^2)`` per coordinate.

    Args:
        vector: any tensor, typically the aggregated update ``(d,)``.
        std: the noise standard deviation, ``>= 0`` (0 returns a copy).
        generator: a CPU ``torch.Generator`` for reproducible noise; ``None`` uses the global
            one. Noise is drawn on the CPU and moved to ``vector``'s device so the same seed
            gives the same noise everywhere.

    Returns:
        A new tensor shaped like ``vector``.
    """
    std = check_real("std", std, 0.0, math.inf, hi_open=True)
    if std == 0:
        return vector.clone()
    noise = torch.randn(vector.shape, generator=generator, dtype=torch.float32)
    return vector + (std * noise).to(device=vector.device, dtype=vector.dtype)


def foolsgold_weights(history: torch.Tensor, *, kappa: float = 1.0,
                      eps: float = 1e-5) -> torch.Tensor:
    """FoolsGold client weights (Fung, Yoon and Beschastnikh, "The Limitations of Federated
    Learning in Sybil Settings", RAID 2020, Algorithm 1).

    Sybils pushing the same poisoned objective produce aggregate (historical) updates that
    point the same way; FoolsGold down-weights clients by how similar they are to the most
    similar other client:

    1. ``cs_ij`` = cosine similarity of the histories, ``i != j`` (the diagonal counts as 0,
       so ``v_i >= 0``); ``v_i = max_j cs_ij``.
    2. Pardoning: if ``v_j > v_i``, ``cs_ij *= v_i / v_j`` (an honest client that merely
       resembles a sybil is not punished as hard as the sybils are).
    3. ``alpha_i = 1 - max_j cs_ij`` clipped to ``[0, 1]``, then rescaled by ``max(alpha)``;
       a rescaled 1 becomes 0.99.
    4. Logit: ``alpha_i = kappa * (ln(alpha_i / (1 - alpha_i)) + 0.5)`` clipped to ``[0, 1]``;
       ``alpha_i = 0`` (``-inf``) gives weight 0.

    Args:
        history: ``(n, d)`` each participating client's summed updates over all rounds.
        kappa: the logit confidence, ``> 0`` (default 1.0, as in the paper's code).
        eps: numerical floor (default 1e-5): histories with a norm below it count as zero
            vectors (cosine 0 to everyone), and ``alpha`` values below it (what identical
            histories give in floating point) count as exactly 0. If every ``alpha`` is 0
            (all clients look alike) every weight is 0.

    Returns:
        ``(n,)`` weights in ``[0, 1]`` (not normalised) on ``history``'s device, float32.
    """
    n = _check_matrix(history)
    kappa = check_real("kappa", kappa, 0.0, math.inf, lo_open=True, hi_open=True)
    eps = check_real("eps", eps, 0.0, 1.0, lo_open=True, hi_open=True)
    h = history.detach().to(torch.float64)
    norms = torch.linalg.vector_norm(h, dim=1, keepdim=True)
    unit = torch.where(norms >= eps, h / norms.clamp_min(eps), torch.zeros_like(h))
    cs = unit @ unit.T
    cs.fill_diagonal_(0.0)  # the paper's code subtracts the identity
    v = cs.max(dim=1).values if n > 1 else torch.zeros(1, dtype=h.dtype, device=h.device)
    # Pardoning: row i, column j scaled by v_i / v_j where v_j > v_i (then v_j > 0).
    vi, vj = v.unsqueeze(1), v.unsqueeze(0)
    pardon = vj > vi
    cs = torch.where(pardon, cs * vi / torch.where(pardon, vj, torch.ones_like(vj)), cs)
    alpha = (1.0 - cs.max(dim=1).values).clamp(0.0, 1.0)
    alpha = torch.where(alpha < eps, torch.zeros_like(alpha), alpha)
    top = alpha.max()
    if top <= 0:
        return torch.zeros(n, dtype=torch.float32, device=history.device)
    alpha = alpha / top
    alpha = torch.where(alpha >= 1.0, torch.full_like(alpha, 0.99), alpha)
    positive = alpha > 0
    # Only take the logit where alpha > 0; alpha = 0 is -inf, i.e. weight 0.
    safe = torch.where(positive, alpha, torch.full_like(alpha, 0.5))
    logit = kappa * (torch.log(safe / (1.0 - safe)) + 0.5)
    weights = torch.where(positive, logit.clamp(0.0, 1.0), torch.zeros_like(alpha))
    return weights.to(torch.float32)
