"""Deploy a low-rank model for CPU inference, and save it so that it runs with PyTorch alone.

:func:`deploy` turns a model with SVD layers (Yang et al., 2020, arXiv 2004.09031) into an
eval-mode inference model whose latency follows its FLOPs:

1. per SVD layer, keep the factorized pair (``k x k`` conv to ``r`` channels then ``1 x 1``,
   or two linears) only where it pays, else merge the factors back into one dense layer
   (``factorize``: by FLOPs with a margin, or by the measured latency of both candidates at
   the layer's real input shape and the target batch, cached);
2. fold every batch norm that follows a conv/linear into it
   (:func:`torch.fx.experimental.optimization.fuse`);
3. optionally run in ``channels_last`` memory format.

Why per layer: on oneDNN (PyTorch's CPU conv backend) a conv's cost is a step function of its
channel count (blocks of 8/16 channels), and the pair adds a memory pass for the ``r``-channel
map, so a rank that saves FLOPs on paper can still run slower than the dense conv (ResNet-20's
16-channel stage never gains on a 1-thread AVX-512 CPU; see ``benchmarks/svdtrain_latency.py``).
A layer kept dense counts its dense FLOPs in :func:`~carbide.compression.lowrank.count_flops`
of the deployed model: the figures describe what runs.

:func:`export_model` writes a model as a :func:`torch.export` program.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..._io import atomic_path, atomic_write
from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError

__all__ = ["FACTORIZE", "LatencyCache", "deploy", "export_model", "factorize_decisions",
           "fastest_call"]

#: Per-layer policies of :func:`deploy`: ``"latency"`` (time both candidates), ``"flops"``
#: (the pair's FLOPs times ``1 + margin`` must not exceed the dense layer's) and ``"always"``
#: (every SVD layer as a pair, the rank's nominal FLOPs).
FACTORIZE: tuple[str, ...] = ("latency", "flops", "always")


def export_model(model: nn.Module, input_shape: Sequence[int],
                 path: str | os.PathLike[str]) -> None:
    """Write ``model`` (eval mode) as a :func:`torch.export` program to ``path`` (``.pt2``),
    with a dynamic batch dimension. Load it with ``torch.export.load(path).module()``.

    The file holds the graph and weights, not Python classes, so neither carbide nor the model's
    own class is needed to run it. Works on :func:`deploy`'s output too. Written atomically.
    """
    model = model.eval()
    example = torch.zeros(2, *input_shape)
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    with atomic_path(path) as tmp:
        torch.export.save(program, tmp)


# ------------------------------------------------------------------------ latency measurement


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fastest_call(modules: Sequence[nn.Module], x: torch.Tensor, *, threads: int = 1,
                 blocks: int = 30, block_time: float = 0.003) -> list[float]:
    """Seconds per call of each module on ``x``: the fastest of ``blocks`` timed blocks, the
    modules interleaved block by block (so a burst of load hits all of them alike).

    The minimum, not the median: on a shared machine most blocks are slowed by other
    processes, and the fastest block is the best estimate of the module's own cost, which is
    what a per-layer decision needs. Each block repeats the call for about ``block_time``
    seconds. With one thread the clock is the calling thread's CPU time
    (:func:`time.thread_time`), so time spent preempted by other processes is not counted
    (caches they evict still are); with more threads it is wall time
    (:func:`time.perf_counter`).
    """
    check_int("threads", threads, 1)
    check_int("blocks", blocks, 1)
    clock = time.thread_time if threads == 1 else time.perf_counter
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            reps = []
            for m in modules:
                m(x)  # warm-up: oneDNN builds and caches its primitive on the first call
                t = clock()
                m(x)
                reps.append(max(1, int(block_time / max(clock() - t, 1e-7))))
            best = [float("inf")] * len(modules)
            for _ in range(blocks):
                for i, m in enumerate(modules):
                    t = clock()
                    for _ in range(reps[i]):
                        m(x)
                    best[i] = min(best[i], (clock() - t) / reps[i])
    finally:
        torch.set_num_threads(before)
    return best


class LatencyCache:
    """Measured per-layer latencies (seconds) by layer geometry, input shape, batch, threads,
    memory format, CPU model and torch version, optionally kept in a JSON file.

    Args:
        path: JSON file to read (if it exists) and to write after each new measurement
            (atomically). ``None``: this object only.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, list[float]] = {}
        if self.path is not None and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self.entries = {str(k): [float(v[0]), float(v[1])]
                                for k, v in data["entries"].items()}
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise InvalidConfigError(
                    f"latency cache {self.path} is not a carbide latency cache ({exc}); "
                    "delete it or give another path") from exc
        self.machine = f"{_cpu_name()}|torch {torch.__version__}"

    def key(self, layer_key: str) -> str:
        return f"{self.machine}|{layer_key}"

    def get(self, layer_key: str) -> list[float] | None:
        return self.entries.get(self.key(layer_key))

    def put(self, layer_key: str, times: Sequence[float]) -> None:
        self.entries[self.key(layer_key)] = [float(t) for t in times]
        if self.path is not None:
            with atomic_write(self.path) as fh:
                json.dump({"entries": self.entries}, fh, indent=1, sort_keys=True)


# ------------------------------------------------------------------------ per-layer decisions


def _input_shapes(model: nn.Module, layers: dict[str, nn.Module],
                  input_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Input shape (batch 1) of each layer in one eval forward pass."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name, layer in layers.items():
        def pre(_m, inp, name=name):
            shapes.setdefault(name, tuple(inp[0].shape))
        hooks.append(layer.register_forward_pre_hook(pre))
    p = next(model.parameters(), None)
    kw = {"dtype": p.dtype, "device": p.device} if p is not None else {}
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, **kw))
    finally:
        for h in hooks:
            h.remove()
    return shapes


def _layer_key(layer: nn.Module, shape: tuple[int, ...], batch: int, threads: int,
               fmt: str) -> str:
    return (f"{layer.extra_repr()}|bias={layer.bias is not None}|in={'x'.join(map(str, shape[1:]))}"
            f"|batch={batch}|threads={threads}|{fmt}")


def _flops(module: nn.Module, x: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def factorize_decisions(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    factorize: str = "latency",
    margin: float = 0.05,
    batch: int = 32,
    threads: int = 1,
    channels_last: bool = True,
    cache: LatencyCache | None = None,
    timer: Callable[[Sequence[nn.Module], torch.Tensor], Sequence[float]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per SVD layer, whether the factorized pair is kept: name -> ``{"factorize": bool,
    "pair": cost, "dense": cost, "unit": "s" | "flops"}`` (cost per batch of ``batch``
    for ``"latency"``, per sample for ``"flops"``).

    Args:
        model: a model with SVD layers (after :func:`~carbide.compression.lowrank.decompose`
            and usually :func:`~carbide.compression.lowrank.prune_`); not changed.
        input_shape: one sample's shape, e.g. ``(3, 32, 32)``.
        factorize: one of :data:`FACTORIZE` (default ``"latency"``).
        margin: the pair is kept only when its cost times ``1 + margin`` is at most the dense
            layer's (default 0.05: a pair that wins by less than 5 % is not worth the risk of a
            noisy measurement; use ``0`` for the plain FLOPs comparison).
        batch, threads, channels_last: the deployment the latency is measured for.
        cache: measured latencies to reuse and extend (default: a new, empty one).
        timer: ``(modules, x) -> seconds per call`` (default :func:`fastest_call` with
            ``threads``); tests pass a fake one.
    """
    from ._decompose import svd_layers

    if factorize not in FACTORIZE:
        raise InvalidConfigError(
            f"unknown factorize policy {factorize!r}; choose one of: {', '.join(FACTORIZE)}")
    check_real("margin", margin, 0.0, 10.0)
    check_int("batch", batch, 1)
    check_int("threads", threads, 1)
    layers = svd_layers(model)
    if factorize == "always":
        return {n: {"factorize": True, "pair": None, "dense": None, "unit": None}
                for n in layers}
    model = copy.deepcopy(model).cpu().float().eval()
    layers = svd_layers(model)
    shapes = _input_shapes(model, layers, input_shape)
    cache = cache if cache is not None else LatencyCache()
    fmt = "channels_last" if channels_last else "contiguous"
    out: dict[str, dict[str, Any]] = {}
    for name, layer in layers.items():
        if name not in shapes:  # not reached by the forward pass: keep the rank's form
            out[name] = {"factorize": True, "pair": None, "dense": None, "unit": None}
            continue
        pair, dense = layer.to_dense_layers().eval(), layer.to_dense().eval()
        shape = shapes[name]
        if factorize == "flops":
            x = torch.zeros(1, *shape[1:])
            costs = [_flops(pair, x), _flops(dense, x)]
        else:
            key = _layer_key(layer, shape, batch, threads, fmt)
            found = cache.get(key)
            if found is None:
                x = torch.randn(batch, *shape[1:])
                if channels_last and x.dim() == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                    pair = pair.to(memory_format=torch.channels_last)
                    dense = dense.to(memory_format=torch.channels_last)
                time_it = timer or (lambda ms, x: fastest_call(ms, x, threads=threads))
                found = list(time_it([pair, dense], x))
                cache.put(key, found)
            costs = found
        out[name] = {"factorize": costs[0] * (1.0 + margin) <= costs[1], "pair": costs[0],
                     "dense": costs[1], "unit": "flops" if factorize == "flops" else "s"}
    return out


# ------------------------------------------------------------------------------- deployment


def deploy(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    factorize: str = "latency",
    margin: float = 0.05,
    batch: int = 32,
    threads: int = 1,
    fold_bn: bool = True,
    channels_last: bool = True,
    cache: LatencyCache | None = None,
    timer: Callable[[Sequence[nn.Module], torch.Tensor], Sequence[float]] | None = None,
    decisions: dict[str, dict[str, Any]] | None = None,
) -> nn.Module:
    """An eval-mode CPU inference copy of ``model`` made of plain PyTorch layers.

    Each SVD layer becomes a pair of thin layers or one merged dense layer, per
    :func:`factorize_decisions` (``factorize``, ``margin``, ``batch``, ``threads``,
    ``channels_last``, ``cache``, ``timer`` are passed there; or give ``decisions`` from an
    earlier call). Then, with ``fold_bn`` (default), every ``BatchNorm`` after a conv/linear
    is folded into it and the model becomes a :class:`torch.fx.GraphModule`; with
    ``channels_last`` (default), weights and the input are put in that memory format (one
    conversion at the input, inside the model). The result computes the same function as
    ``model.eval()`` up to float rounding, needs no carbide import, and is for inference only
    (for a trainable plain copy use :func:`~carbide.compression.lowrank.compact`). A model
    without SVD layers (the dense original) gets the same BN folding and memory format, so
    that the two are compared on equal terms.

    Raises:
        InvalidConfigError: unknown ``factorize``, bad numbers, or ``fold_bn`` on a model that
            :func:`torch.fx.symbolic_trace` cannot trace (the message says to pass
            ``fold_bn=False``).
    """
    from ._decompose import compact

    if channels_last and len(input_shape) != 3:
        raise InvalidConfigError(
            f"channels_last needs image inputs (C, H, W), got input_shape={tuple(input_shape)}; "
            "pass channels_last=False")
    if decisions is None:
        decisions = factorize_decisions(
            model, input_shape, factorize=factorize, margin=margin, batch=batch,
            threads=threads, channels_last=channels_last, cache=cache, timer=timer)
    out = compact(model, factorize={n: d["factorize"] for n, d in decisions.items()})
    out = out.cpu().eval()
    if fold_bn or channels_last:
        from torch.fx.experimental.optimization import fuse

        try:
            out = fuse(out, inplace=True) if fold_bn else torch.fx.symbolic_trace(out)
        except Exception as exc:  # fx raises many kinds (TraceError, TypeError, ...)
            raise InvalidConfigError(
                f"cannot trace {type(model).__name__} with torch.fx to fold batch norms / set "
                f"the memory format ({type(exc).__name__}: {exc}); pass fold_bn=False, "
                "channels_last=False") from exc
        for node in out.graph.nodes:
            # string annotations (``from __future__ import annotations`` in the model's
            # module) would make the GraphModule unpicklable
            node.type = None
        out.recompile()
    if channels_last:
        out = _prepend_channels_last(out.to(memory_format=torch.channels_last))
    return out.eval()


def _prepend_channels_last(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Convert the input to ``channels_last`` as the graph's first step (a ``contiguous`` call
    in the graph, not a carbide function, so the model still needs no carbide import)."""
    graph = gm.graph
    (x,) = [n for n in graph.nodes if n.op == "placeholder"]
    with graph.inserting_after(x):
        conv = graph.call_method("contiguous", (x,), {"memory_format": torch.channels_last})
    x.replace_all_uses_with(conv)
    conv.args = (x,)
    graph.lint()
    gm.recompile()
    return gm
