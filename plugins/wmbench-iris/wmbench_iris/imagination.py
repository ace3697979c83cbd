"""Imagined rollouts in the world model, batched over all rollouts with one KV cache.

Per imagined step the reference makes 17 one-token transformer calls: the action (which yields
reward and termination and the first frame token), then the 16 frame tokens one by one (the
16th only to fill the cache). Here the 16th token of a frame is fed together with the next
action in one two-token call, so a step is 16 calls with identical outputs; the final step
of a rollout, whose reward and next frame the λ-returns never use, is not simulated (the
reference computes and discards it). Like the reference, the context is seeded with the last
real frame's tokens only, and the cache restarts from the current frame when it would overflow.
"""

from __future__ import annotations

import torch

from wmbench_iris.tokenizer import Tokenizer
from wmbench_iris.world_model import KVCache, WorldModel


def sample(logits: torch.Tensor, generator: torch.Generator | None,
           temperature: float = 1.0) -> torch.Tensor:
    """One categorical sample per row of (B, C) logits."""
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class ImaginedEnv:
    """A batch of environments simulated by the world model (no gradients)."""

    def __init__(self, tokenizer: Tokenizer, world_model: WorldModel,
                 generator: torch.Generator | None = None, temperature: float = 1.0) -> None:
        self.tokenizer = tokenizer
        self.wm = world_model
        self.gen = generator
        self.temperature = temperature
        self.k = world_model.tokens_per_frame
        self.cache: KVCache | None = None
        self.frame_tokens: torch.Tensor | None = None  # tokens of the current frame (B, K)
        self.pending: torch.Tensor | None = None  # last frame token not yet in the cache

    @torch.no_grad()
    def reset(self, tokens: torch.Tensor) -> torch.Tensor:
        """Start from frame tokens (B, K); returns the frame (B, 3, 64, 64) in [0, 1]."""
        self._prefill(tokens)
        return self.tokenizer.decode_tokens(tokens)

    def _prefill(self, tokens: torch.Tensor) -> None:
        if self.cache is None or self.cache.k.shape[1] != tokens.shape[0]:
            self.cache = self.wm.new_cache(tokens.shape[0])
        self.cache.reset()
        self.wm(tokens, self.cache)
        self.frame_tokens = tokens
        self.pending = None

    @torch.no_grad()
    def step(self, actions: torch.Tensor, decode: bool = True
             ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
        """actions (B,) -> (next frame or None, reward sign (B,) float, done (B,) bool, tokens)."""
        assert self.cache is not None and self.frame_tokens is not None
        needed = (self.pending is not None) + 1 + (self.k - 1)
        if self.cache.size + needed > self.cache.max_tokens:
            self._prefill(self.frame_tokens)  # context restarts from the current frame
        inp = actions[:, None] if self.pending is None else torch.stack([self.pending, actions], 1)
        h = self.wm(inp, self.cache)[:, -1]
        reward = sample(self.wm.reward_head(h), self.gen).float() - 1.0
        done = sample(self.wm.end_head(h), self.gen).bool()
        tok = sample(self.wm.obs_head(h), self.gen, self.temperature)
        toks = [tok]
        for _ in range(self.k - 1):
            h = self.wm(tok[:, None], self.cache)[:, -1]
            tok = sample(self.wm.obs_head(h), self.gen, self.temperature)
            toks.append(tok)
        self.pending = tok
        self.frame_tokens = torch.stack(toks, 1)
        frame = self.tokenizer.decode_tokens(self.frame_tokens) if decode else None
        return frame, reward, done, self.frame_tokens
