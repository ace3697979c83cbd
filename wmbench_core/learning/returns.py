"""λ-returns (Sutton & Barto §12.1), as used by Dreamer, IRIS and DIAMOND's actor-critics."""

from __future__ import annotations

import torch


def lambda_returns(
    rewards: torch.Tensor,
    values: torch.Tensor,
    discounts: torch.Tensor,
    lambda_: float,
) -> torch.Tensor:
    """λ-returns over a trajectory, time on dimension 0.

    rewards[t]:   reward of the transition s_t -> s_{t+1}                     shape (T, ...)
    values[t]:    V(s_t) for t = 0..T (values[T] is the bootstrap)            shape (T+1, ...)
    discounts[t]: γ · (1 - done_t) for the transition s_t -> s_{t+1}          shape (T, ...)

    G_t = r_t + discounts_t · ((1 - λ) V(s_{t+1}) + λ G_{t+1}),  G_T = V(s_T).
    Returns G_0..G_{T-1}, shape (T, ...).
    """
    if values.shape[0] != rewards.shape[0] + 1:
        raise ValueError("values must have one more time step than rewards (the bootstrap)")
    out = []
    last = values[-1]
    for t in reversed(range(rewards.shape[0])):
        last = rewards[t] + discounts[t] * ((1.0 - lambda_) * values[t + 1] + lambda_ * last)
        out.append(last)
    return torch.stack(out[::-1])
