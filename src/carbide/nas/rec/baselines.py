"""Hand-designed CTR baselines (our implementations), on the same stem as NASRec.

- ``lr``: logistic regression (one weight per category id and per dense feature);
- ``fm``: factorization machine (Rendle, ICDM 2010): first order + pairwise token dots;
- ``deepfm``: DeepFM (Guo et al., IJCAI 2017): FM + an MLP over the concatenated embeddings;
- ``dlrm``: DLRM (Naumov et al., arXiv 1906.00091): bottom MLP on dense features to one token,
  pairwise dot interactions of all tokens, top MLP;
- ``dcnv2``: DCN-v2 (Wang et al., WWW 2021): full-rank cross layers
  ``x_{l+1} = x0 * (W x_l + b) + x_l`` stacked with a deep MLP.

All map a batch (see :mod:`.supernet`) to logits ``(B,)``. MLP widths are scaled down from the
papers' (e.g. DeepFM's 400-400-400) to suit a CPU and MovieLens-100k; they are arguments.
:func:`deepctr_deepfm` runs deepctr-torch's DeepFM as a peer baseline (optional extra
``nasrec-peers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...exceptions import InvalidConfigError
from .data import TabularCTR
from .supernet import CTRStem, fm_interaction, pairwise_dots

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["BASELINES", "build_baseline", "deepctr_deepfm"]

BASELINES: tuple[str, ...] = ("lr", "fm", "deepfm", "dlrm", "dcnv2")


def _mlp(sizes: Sequence[int], last_act: bool = True):
    from torch import nn

    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if last_act or k < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build_baseline(name: str, data: TabularCTR, *, embedding_dim: int = 16,
                   hidden: Sequence[int] = (256, 128), cross_layers: int = 2,
                   seed: int = 0) -> nn.Module:
    """A fresh baseline model for ``data``'s fields (``name`` in :data:`BASELINES`)."""
    import torch
    from torch import nn

    if name not in BASELINES:
        raise InvalidConfigError(f"unknown baseline {name!r}; choose one of {list(BASELINES)}")
    torch.manual_seed(seed)
    vocab, bags, nd = data.vocab_sizes, data.bag_sizes, data.num_dense
    e = embedding_dim
    n_tok = data.num_tokens
    width = max(nd, 1)

    class _Linear(nn.Module):
        """First-order term: per-id scalar weights plus a linear map of the dense features."""

        def __init__(self):
            super().__init__()
            self.stem = CTRStem(vocab, bags, nd, 1)
            self.dense = nn.Linear(width, 1)

        def forward(self, batch):
            dense, tokens = self.stem(batch)
            return tokens.sum(dim=(1, 2)) + self.dense(dense).squeeze(-1)

    class LR(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = _Linear()

        def forward(self, batch):
            return self.first(batch)

    class FM(nn.Module):
        def __init__(self, deep: bool = False):
            super().__init__()
            self.first = _Linear()
            self.stem = CTRStem(vocab, bags, nd, e)
            self.deep = _mlp((n_tok * e + width, *hidden, 1), last_act=False) if deep else None

        def forward(self, batch):
            dense, tokens = self.stem(batch)
            out = self.first(batch) + fm_interaction([(tokens, 0)]).sum(-1)
            if self.deep is not None:
                out = out + self.deep(torch.cat([tokens.flatten(1), dense], 1)).squeeze(-1)
            return out

    class DLRM(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = CTRStem(vocab, bags, nd, e)
            self.bottom = _mlp((width, 64, e))
            pairs = (n_tok + 1) * n_tok // 2
            self.top = _mlp((pairs + e, *hidden, 1), last_act=False)

        def forward(self, batch):
            dense, tokens = self.stem(batch)
            z = self.bottom(dense)
            dots = pairwise_dots(torch.cat([z[:, None], tokens], 1))
            return self.top(torch.cat([z, dots], 1)).squeeze(-1)

    class DCNv2(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = CTRStem(vocab, bags, nd, e)
            d = n_tok * e + width
            self.cross = nn.ModuleList(nn.Linear(d, d) for _ in range(cross_layers))
            self.deep = _mlp((d, *hidden))
            self.out = nn.Linear(hidden[-1] if hidden else d, 1)

        def forward(self, batch):
            dense, tokens = self.stem(batch)
            x0 = torch.cat([tokens.flatten(1), dense], 1)
            x = x0
            for layer in self.cross:
                x = x0 * layer(x) + x
            return self.out(self.deep(x)).squeeze(-1)

    builders = {"lr": LR, "fm": FM, "deepfm": lambda: FM(deep=True), "dlrm": DLRM,
                "dcnv2": DCNv2}
    return builders[name]()


def deepctr_deepfm(data: TabularCTR, *, epochs: int = 1, batch_size: int = 512,
                   lr: float = 0.12, embedding_dim: int = 16, hidden: Sequence[int] = (256, 128),
                   seed: int = 0) -> dict[str, Any]:
    """Train deepctr-torch's DeepFM on the same splits (peer baseline; Adagrad, no schedule).

    Multi-hot fields enter as ``VarLenSparseFeat`` with mean pooling.

    Returns:
        ``{"test_logloss", "test_auc"}``.

    Raises:
        MissingDependencyError: deepctr-torch is not installed (extra ``nasrec-peers``).
    """
    import numpy as np
    import torch

    from ..._imports import optional_import
    from .train import binary_auc

    inputs = optional_import("deepctr_torch.inputs", "nasrec-peers",
                             purpose="the deepctr-torch DeepFM peer baseline")
    models = optional_import("deepctr_torch.models", "nasrec-peers",
                             purpose="the deepctr-torch DeepFM peer baseline")
    torch.manual_seed(seed)
    cols: list[Any] = [inputs.SparseFeat(f"s{j}", vocabulary_size=int(v),
                                         embedding_dim=embedding_dim)
                       for j, v in enumerate(data.vocab_sizes)]
    cols += [inputs.DenseFeat(f"d{j}", 1) for j in range(data.num_dense)]
    width = data.multi_hot.shape[2]
    cols += [inputs.VarLenSparseFeat(inputs.SparseFeat(f"m{j}", vocabulary_size=int(v),
                                                       embedding_dim=embedding_dim),
                                     maxlen=width, combiner="mean")
             for j, v in enumerate(data.bag_sizes)]

    def frame(split: str) -> dict[str, np.ndarray]:
        idx = data.splits[split]
        out = {f"s{j}": data.sparse[idx, j] for j in range(len(data.vocab_sizes))}
        out.update({f"d{j}": data.dense[idx, j] for j in range(data.num_dense)})
        out.update({f"m{j}": data.multi_hot[idx, j] for j in range(len(data.bag_sizes))})
        return out

    model = models.DeepFM(cols, cols, dnn_hidden_units=tuple(hidden), device="cpu", seed=seed)
    model.compile(torch.optim.Adagrad(model.parameters(), lr=lr), "binary_crossentropy")
    model.fit(frame("train"), data.label[data.splits["train"]], batch_size=batch_size,
              epochs=epochs, verbose=0)
    p = np.clip(model.predict(frame("test"), batch_size=4096).reshape(-1), 1e-7, 1 - 1e-7)
    y = data.label[data.splits["test"]]
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return {"test_logloss": loss, "test_auc": binary_auc(y, p)}
