"""The Transformer world model (IRIS §2.2): a GPT over interleaved frame and action tokens.

The sequence is z_1^1..z_1^16 a_1 z_2^1 ... (17 tokens per step, up to 20 steps = 340 tokens),
with learned absolute positions. A token's kind follows from its position (every 17th is an
action), so frame and action tokens get separate embedding tables. Heads (2-layer MLPs):

* observation: 512 logits for the next frame token, read at every position but each step's
  last frame token (the action position predicts the first token of the next frame);
* reward: sign of the reward {-1, 0, +1}, read at action positions;
* termination: {no, yes}, read at action positions.

Inference keeps a preallocated key/value cache per layer, batched over all rollouts, so one call
processes only the new tokens (exactly the same outputs as recomputing the whole sequence).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_core.learning.linear import Linear
from wmbench_iris.configs import WorldModelConfig


class KVCache:
    """Keys/values of every layer for a batch of sequences, filled left to right."""

    def __init__(self, num_layers: int, batch: int, num_heads: int, max_tokens: int,
                 head_dim: int, device: torch.device | str, dtype: torch.dtype) -> None:
        shape = (num_layers, batch, num_heads, max_tokens, head_dim)
        self.k = torch.empty(shape, device=device, dtype=dtype)
        self.v = torch.empty(shape, device=device, dtype=dtype)
        self.max_tokens = max_tokens
        self.size = 0

    def reset(self) -> None:
        self.size = 0


class SelfAttention(nn.Module):
    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        self.heads = cfg.num_heads
        self.qkv = Linear(cfg.embed_dim, 3 * cfg.embed_dim)  # = separate q, k, v Linears
        self.proj = Linear(cfg.embed_dim, cfg.embed_dim)
        self.attn_pdrop = cfg.attn_pdrop
        self.resid_drop = nn.Dropout(cfg.resid_pdrop)

    def forward(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None,
                start: int) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.attn_pdrop if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            kc, vc = cache
            kc[:, :, start:start + t] = k
            vc[:, :, start:start + t] = v
            k, v = kc[:, :, :start + t], vc[:, :, :start + t]
            if t == 1:  # the new token sees everything cached
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            else:  # new token i sees cached tokens and new tokens <= i
                mask = torch.ones(t, start + t, dtype=torch.bool, device=x.device).tril(start)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(b, t, d)))


class Block(nn.Module):
    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        d = cfg.embed_dim
        self.ln1 = nn.LayerNorm(d)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(Linear(d, 4 * d), nn.GELU(), Linear(4 * d, d),
                                 nn.Dropout(cfg.resid_pdrop))

    def forward(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None,
                start: int) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, start)
        return x + self.mlp(self.ln2(x))


def _head(d: int, out: int) -> nn.Sequential:
    return nn.Sequential(Linear(d, d), nn.ReLU(), Linear(d, out))


class WorldModel(nn.Module):
    def __init__(self, cfg: WorldModelConfig, vocab_size: int, num_actions: int,
                 tokens_per_frame: int) -> None:
        super().__init__()
        if cfg.tokens_per_block != tokens_per_frame + 1:
            raise ValueError(f"world_model.tokens_per_block must be tokens per frame + 1 "
                             f"= {tokens_per_frame + 1}, got {cfg.tokens_per_block}")
        if cfg.embed_dim % cfg.num_heads:
            raise ValueError("world_model.embed_dim must be divisible by world_model.num_heads")
        self.cfg = cfg
        self.num_actions = num_actions
        self.tokens_per_frame = tokens_per_frame
        self.max_tokens = cfg.tokens_per_block * cfg.max_blocks
        d = cfg.embed_dim
        self.frame_emb = nn.Embedding(vocab_size, d)
        self.action_emb = nn.Embedding(num_actions, d)
        self.pos_emb = nn.Embedding(self.max_tokens, d)
        self.drop = nn.Dropout(cfg.embed_pdrop)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.num_layers)])
        self.ln_f = nn.LayerNorm(d)
        self.obs_head = _head(d, vocab_size)
        self.reward_head = _head(d, 3)
        self.end_head = _head(d, 2)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        # minGPT initialisation, as in the reference: N(0, 0.02), zero biases, unit LayerNorm
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def new_cache(self, batch: int) -> KVCache:
        p = next(self.parameters())
        return KVCache(len(self.blocks), batch, self.cfg.num_heads, self.max_tokens,
                       self.cfg.embed_dim // self.cfg.num_heads, p.device, p.dtype)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """tokens (B, T) -> hidden states (B, T, D). Without a cache the sequence starts at
        position 0; with one it continues after the cached tokens (and is appended to it)."""
        b, t = tokens.shape
        start = cache.size if cache is not None else 0
        if start + t > self.max_tokens:
            raise ValueError(f"sequence of {start + t} tokens exceeds the context of {self.max_tokens}")
        pos = torch.arange(start, start + t, device=tokens.device)
        is_action = (pos % self.cfg.tokens_per_block) == self.tokens_per_frame
        if is_action.all():
            x = self.action_emb(tokens)
        elif not is_action.any():
            x = self.frame_emb(tokens)
        else:
            x = torch.where(is_action[None, :, None],
                            self.action_emb(tokens.clamp(max=self.num_actions - 1)),
                            self.frame_emb(tokens))
        x = self.drop(x + self.pos_emb(pos)[None])
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else (cache.k[i], cache.v[i]), start)
        if cache is not None:
            cache.size = start + t
        return self.ln_f(x)

    def compute_loss(self, tokens: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                     ends: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """tokens (B, L, K), actions/rewards/ends/mask (B, L); mask False marks padding."""
        b, seq_len, k = tokens.shape
        seq = torch.cat([tokens, actions[..., None]], dim=2).reshape(b, seq_len * (k + 1))
        h = self(seq).view(b, seq_len, k + 1, -1)
        # position j < K-1 predicts frame token j+1; the action position predicts the next
        # frame's first token; the last frame token predicts nothing (the action is given)
        obs_h = torch.cat([h[:, :, : k - 1], h[:, :, k:]], dim=2)
        next_first = torch.cat([tokens[:, 1:, :1], tokens.new_full((b, 1, 1), -100)], dim=1)
        target = torch.cat([tokens[:, :, 1:], next_first], dim=2)
        valid_next = torch.cat([mask[:, 1:], mask.new_zeros(b, 1)], dim=1)
        target[:, :, : k - 1][~mask] = -100
        target[:, :, k - 1][~valid_next] = -100
        loss_obs = F.cross_entropy(self.obs_head(obs_h).flatten(0, 2), target.flatten())
        act_h = h[:, :, k]
        reward_target = (torch.sign(rewards).long() + 1).masked_fill(~mask, -100)
        end_target = ends.long().masked_fill(~mask, -100)
        loss_reward = F.cross_entropy(self.reward_head(act_h).flatten(0, 1), reward_target.flatten())
        loss_end = F.cross_entropy(self.end_head(act_h).flatten(0, 1), end_target.flatten())
        loss = loss_obs + loss_reward + loss_end
        return loss, {"obs": loss_obs.item(), "reward": loss_reward.item(), "end": loss_end.item()}


def configure_optimizer(wm: WorldModel, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on Linear weights only (not embeddings, LayerNorm, biases)."""
    decay, no_decay = [], []
    for module in wm.modules():
        for name, p in module.named_parameters(recurse=False):
            (decay if isinstance(module, nn.Linear) and name == "weight" else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)
