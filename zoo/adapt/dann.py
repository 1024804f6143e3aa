"""DANN (Ganin et al., JMLR 2016): domain-adversarial training with a gradient-reversal layer.

Over frozen backbone features: a small feature network ``F`` (linear + ReLU) feeds a label head
``G_y`` trained on labeled source features and, through a gradient-reversal layer, a domain
classifier ``G_d`` trained to tell source from target. Reversing the domain loss's gradient makes
``F`` learn features the domain classifier cannot separate. The reversal weight follows the
paper's schedule ``2 / (1 + exp(-10 p)) - 1`` over training progress ``p``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["GradientReversal", "DannClassifier", "fit_dann"]


class GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``-weight`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: float) -> torch.Tensor:  # type: ignore[override]
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return -ctx.weight * grad, None


class DannClassifier:
    """The trained ``F`` and ``G_y``, with scikit-learn style ``predict`` / ``predict_proba``."""

    def __init__(self, features: nn.Module, head: nn.Module, classes: np.ndarray, mean: np.ndarray,
                 scale: np.ndarray) -> None:
        self.features, self.head, self.classes_ = features, head, classes
        self.mean_, self.scale_ = mean, scale

    @torch.no_grad()
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(((np.asarray(X, dtype=np.float32) - self.mean_) / self.scale_).astype(np.float32))
        return self.head(self.features(x)).softmax(-1).numpy().astype(np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def fit_dann(Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, *, hidden: int = 256, epochs: int = 20,
             lr: float = 1e-3, domain_weight: float = 1.0, batch_size: int = 128, weight_decay: float = 1e-4,
             seed: int = 0) -> DannClassifier:
    """Train DANN on features standardized with the source statistics; deterministic for ``seed`` on CPU."""
    classes, y_idx = np.unique(ys, return_inverse=True)
    source = np.asarray(Xs, dtype=np.float64)  # source statistics only, as the source-only probe uses
    mean, scale = source.mean(axis=0), source.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    xs = torch.from_numpy(((Xs - mean) / scale).astype(np.float32))
    xt = torch.from_numpy(((Xt - mean) / scale).astype(np.float32))
    ys_t = torch.from_numpy(y_idx.astype(np.int64))
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    dim = xs.shape[1]
    features = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(0.0))
    head = nn.Linear(hidden, len(classes))
    domain = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    params = [*features.parameters(), *head.parameters(), *domain.parameters()]
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = max(1, int(np.ceil(len(xs) / batch_size)))
    total = epochs * steps_per_epoch
    step = 0
    for _ in range(epochs):
        order_s = torch.randperm(len(xs), generator=g)
        order_t = torch.randint(len(xt), (steps_per_epoch * batch_size,), generator=g)
        for b in range(steps_per_epoch):
            sb = order_s[b * batch_size:(b + 1) * batch_size]
            tb = order_t[b * batch_size:b * batch_size + len(sb)]
            p = step / max(total - 1, 1)
            weight = domain_weight * (2.0 / (1.0 + np.exp(-10.0 * p)) - 1.0)
            fs, ft = features(xs[sb]), features(xt[tb])
            label_loss = nn.functional.cross_entropy(head(fs), ys_t[sb])
            f_all = GradientReversal.apply(torch.cat([fs, ft]), float(weight))
            d_target = torch.cat([torch.zeros(len(sb)), torch.ones(len(tb))]).unsqueeze(1)
            domain_loss = nn.functional.binary_cross_entropy_with_logits(domain(f_all), d_target)
            optimizer.zero_grad(set_to_none=True)
            (label_loss + domain_loss).backward()
            optimizer.step()
            step += 1
    features.eval(), head.eval()
    return DannClassifier(features, head, classes, mean.astype(np.float32), scale.astype(np.float32))
