"""A decision head: logistic regression over next-token logits at the decision point.

The model's next-token logits after ``{"vulnerability":`` are a linear image of its
final hidden state (logits = E · h), so a linear head over the logits of any few
hundred well-spread tokens is a linear probe of that hidden state. It is read off the
same single prompt evaluation the scanner already does: no extra model work, no
backward pass to train it, and it can sit on top of a LoRA-tuned model too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulnsight.errors import ModelError


@dataclass(frozen=True)
class DecisionHead:
    """Standardised logistic regression over selected logits."""

    token_ids: Any  # np.ndarray[int64], which logits are features
    mean: Any  # np.ndarray[float64]
    scale: Any  # np.ndarray[float64]
    weights: Any  # np.ndarray[float64]
    bias: float

    def predict(self, logits_subset: Any) -> Any:
        """P(vulnerable) for rows of selected logits (n, k) or one row (k,)."""
        z = (np.asarray(logits_subset, dtype=np.float64) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-np.clip(z @ self.weights + self.bias, -60, 60)))

    def save(self, path: Path) -> None:
        """Write as .npz."""
        np.savez(
            path,
            token_ids=self.token_ids,
            mean=self.mean,
            scale=self.scale,
            weights=self.weights,
            bias=np.array([self.bias]),
        )

    @classmethod
    def load(cls, path: Path) -> DecisionHead:
        """Read a head written by `save`."""
        try:
            data = np.load(path)
            return cls(
                token_ids=data["token_ids"].astype(np.int64),
                mean=data["mean"],
                scale=data["scale"],
                weights=data["weights"],
                bias=float(data["bias"][0]),
            )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot load decision head {path}: {exc}") from exc


def feature_tokens(n_vocab: int, k: int = 1024, seed: int = 0, always: tuple[int, ...] = ()) -> Any:
    """`k` token ids spread over the vocabulary (seeded), plus `always`."""
    rng = np.random.default_rng(seed)
    low = min(256, n_vocab // 4)  # skip the control and byte tokens at the start
    picked = rng.choice(np.arange(low, n_vocab), size=min(k, n_vocab - low), replace=False)
    ids = np.unique(np.concatenate([np.asarray(always, dtype=np.int64), picked]))
    return ids.astype(np.int64)


def fit_head(
    features: Any,
    labels: Any,
    token_ids: Any,
    l2: float = 1.0,
    iterations: int = 50,
    balance: bool = True,
    sample_weight: Any = None,
) -> DecisionHead:
    """L2-regularised logistic regression by Newton's method (IRLS), classes balanced
    (or weighted by `sample_weight`, when given, instead)."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    n, d = z.shape
    if sample_weight is not None:
        sample_w = np.asarray(sample_weight, dtype=np.float64)
    elif balance and 0 < y.sum() < n:
        pos = y.sum()
        sample_w = np.where(y == 1, n / (2 * pos), n / (2 * (n - pos)))
    else:
        sample_w = np.ones(n)
    zb = np.hstack([z, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # no penalty on the bias
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(zb @ w, -60, 60)))
        grad = zb.T @ (sample_w * (p - y)) + reg * w
        hess = (zb * (sample_w * p * (1 - p))[:, None]).T @ zb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return DecisionHead(np.asarray(token_ids, dtype=np.int64), mean, scale, w[:-1], float(w[-1]))
