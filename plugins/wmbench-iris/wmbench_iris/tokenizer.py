"""The discrete autoencoder (IRIS §2.1): a VQ-VAE turning a 64x64 RGB frame into 16 tokens.

Encoder and decoder follow the VQGAN/taming-transformers layout the paper uses (without the GAN):
GroupNorm-Swish-conv residual blocks, single-head spatial self-attention at low resolutions,
stride-2 downsampling and nearest-neighbour upsampling. A 512-entry codebook quantises the 4x4
grid of encoder outputs by nearest neighbour; gradients pass straight through the quantiser.
Loss (reference code, all weights 1): L1 reconstruction + codebook + commitment (+ perceptual).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_core.learning.replay import area_resize
from wmbench_core.learning.upsample import NearestUpsampleConv
from wmbench_iris.configs import TokenizerConfig


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, channels), channels, eps=1e-6)


class ResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = _norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = _norm(cout, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SpatialSelfAttention(nn.Module):
    """One head over the H*W positions, 1x1-conv projections, residual."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = _norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)  # same parameters as three 1x1 convs
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(c), as in taming
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # pad right/bottom only (taming)


class Encoder(nn.Module):
    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        g = cfg.norm_groups
        chans = [cfg.ch * m for m in cfg.ch_mult]
        self.conv_in = nn.Conv2d(3, cfg.ch, 3, padding=1)
        layers: list[nn.Module] = []
        res, cin = cfg.resolution, cfg.ch
        for level, cout in enumerate(chans):
            for _ in range(cfg.num_res_blocks):
                layers.append(ResidualBlock(cin, cout, g, cfg.dropout))
                cin = cout
                if res in cfg.attn_resolutions:
                    layers.append(SpatialSelfAttention(cin, g))
            if level != len(chans) - 1:
                layers.append(Downsample(cin))
                res //= 2
        self.down = nn.Sequential(*layers)
        self.mid = nn.Sequential(
            ResidualBlock(cin, cin, g, cfg.dropout),
            SpatialSelfAttention(cin, g),
            ResidualBlock(cin, cin, g, cfg.dropout),
        )
        self.norm_out = _norm(cin, g)
        self.conv_out = nn.Conv2d(cin, cfg.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.down(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        g = cfg.norm_groups
        chans = [cfg.ch * m for m in cfg.ch_mult]
        n = len(chans)
        cin = chans[-1]
        res = cfg.resolution // 2 ** (n - 1)
        self.conv_in = nn.Conv2d(cfg.z_channels, cin, 3, padding=1)
        self.mid = nn.Sequential(
            ResidualBlock(cin, cin, g, cfg.dropout),
            SpatialSelfAttention(cin, g),
            ResidualBlock(cin, cin, g, cfg.dropout),
        )
        layers: list[nn.Module] = []
        for level in reversed(range(n)):
            cout = chans[level]
            for _ in range(cfg.num_res_blocks + 1):
                layers.append(ResidualBlock(cin, cout, g, cfg.dropout))
                cin = cout
                if res in cfg.attn_resolutions:
                    layers.append(SpatialSelfAttention(cin, g))
            if level != 0:
                layers.append(NearestUpsampleConv(cin))
                res *= 2
        self.up = nn.Sequential(*layers)
        self.norm_out = _norm(cin, g)
        self.conv_out = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.up(self.mid(self.conv_in(z)))
        return self.conv_out(F.silu(self.norm_out(h)))


@dataclass
class Quantized:
    z: torch.Tensor  # encoder output (B, E, h, w)
    z_q: torch.Tensor  # nearest codebook vectors (B, E, h, w)
    tokens: torch.Tensor  # (B, h*w) int64


MISSED_PATCH_ERROR = 0.05  # dead codes move only onto tokens reconstructed worse than this


def token_grid(cfg: TokenizerConfig) -> int:
    """Tokens per side of a frame: patches per side x tokens per patch side."""
    patch = cfg.patch_size or cfg.resolution
    return cfg.resolution // patch * (patch // 2 ** (len(cfg.ch_mult) - 1))


def to_patches(x: torch.Tensor, n: int) -> torch.Tensor:
    """(B, C, H, W) -> (B * n * n, C, H / n, W / n): the n x n patches, row-major."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, n, h // n, n, w // n).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b * n * n, c, h // n, w // n)


def from_patches(x: torch.Tensor, n: int) -> torch.Tensor:
    """Inverse of :func:`to_patches`."""
    bn, c, h, w = x.shape
    x = x.reshape(bn // (n * n), n, n, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(bn // (n * n), c, n * h, n * w)


class Tokenizer(nn.Module):
    """Frames in [0, 1] (B, 3, 64, 64) <-> tokens (B, 16). Frames are area-resized to
    ``cfg.resolution`` first (a no-op at the paper's 64); decoded frames have that size."""

    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        patch = cfg.patch_size or cfg.resolution
        self.patches = cfg.resolution // patch  # per side; 1: whole frames (paper)
        net_cfg = replace(cfg, resolution=patch)
        self.encoder = Encoder(net_cfg)
        self.pre_quant_conv = nn.Conv2d(cfg.z_channels, cfg.embed_dim, 1)
        self.codebook = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        bound = cfg.codebook_init_scale / cfg.vocab_size
        nn.init.uniform_(self.codebook.weight, -bound, bound)
        self.post_quant_conv = nn.Conv2d(cfg.embed_dim, cfg.z_channels, 1)
        self.decoder = Decoder(net_cfg)
        self.grid = token_grid(cfg)
        self.tokens_per_frame = self.grid * self.grid
        # code usage since the last dead-code reset (not saved: a resumed run starts afresh)
        self.register_buffer("usage", torch.zeros(cfg.vocab_size), persistent=False)
        self.steps_since_reset = 0

    def resize(self, x01: torch.Tensor) -> torch.Tensor:
        return area_resize(x01, self.cfg.resolution)

    def quantize(self, x01: torch.Tensor) -> Quantized:
        x = self.resize(x01) * 2.0 - 1.0
        if self.patches > 1:
            z = from_patches(self.encoder(to_patches(x, self.patches)), self.patches)
        else:
            z = self.encoder(x)
        z = self.pre_quant_conv(z)
        b, e, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, e)
        book = self.codebook.weight
        # squared L2 distance without the |z|^2 term (constant per row, irrelevant to argmin)
        dist = book.pow(2).sum(1)[None, :] - 2.0 * flat @ book.t()
        tokens = dist.argmin(1).view(b, h * w)
        z_q = self.codebook(tokens).view(b, h, w, e).permute(0, 3, 1, 2)
        return Quantized(z, z_q, tokens)

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Quantised vectors -> frames in [-1, 1] (unclamped, as the L1 loss sees them)."""
        h = self.post_quant_conv(z_q)
        if self.patches > 1:
            return from_patches(self.decoder(to_patches(h, self.patches)), self.patches)
        return self.decoder(h)

    @torch.no_grad()
    def tokenize(self, x01: torch.Tensor) -> torch.Tensor:
        return self.quantize(x01).tokens

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        b = tokens.shape[0]
        e = self.codebook.embedding_dim
        return self.codebook(tokens).view(b, self.grid, self.grid, e).permute(0, 3, 1, 2)

    @torch.no_grad()
    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, 16) tokens -> frames in [0, 1], clamped: what the policy sees."""
        return self.decode(self.embed_tokens(tokens)).add(1.0).mul(0.5).clamp(0.0, 1.0)

    @torch.no_grad()
    def reconstruct(self, x01: torch.Tensor) -> torch.Tensor:
        return self.decode_tokens(self.quantize(x01).tokens)

    def compute_loss(
        self, x01: torch.Tensor, perceptual: nn.Module | None = None, reset_dead_codes: bool = True
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one training batch; ``reset_dead_codes`` allows a dead-code reset this step
        (only when ``dead_code_reset_every`` is on)."""
        q = self.quantize(x01)
        # codebook term moves the codes, commitment term the encoder (VQ-VAE, van den Oord 2017)
        codebook_loss = F.mse_loss(q.z_q, q.z.detach())
        commitment_loss = self.cfg.commitment_beta * F.mse_loss(q.z, q.z_q.detach())
        z_st = q.z + (q.z_q - q.z).detach()  # straight-through estimator
        recon = self.decode(z_st)
        target = self.resize(x01) * 2.0 - 1.0
        l1 = (recon - target).abs().mean()
        loss = codebook_loss + commitment_loss + l1
        parts = {"codebook": codebook_loss.item(), "commitment": commitment_loss.item(), "l1": l1.item()}
        if self.training and reset_dead_codes and self.cfg.dead_code_reset_every > 0:
            parts["dead_codes"] = float(self._reset_dead_codes(q, (recon - target).detach()))
        if self.cfg.l2_weight > 0:
            l2 = (recon - target).pow(2).mean()
            loss = loss + self.cfg.l2_weight * l2
            parts["l2"] = l2.item()
        if perceptual is not None and self.cfg.perceptual_weight > 0:
            p = perceptual(target, recon).mean()
            loss = loss + self.cfg.perceptual_weight * p
            parts["perceptual"] = p.item()
        return loss, parts


    @torch.no_grad()
    def _reset_dead_codes(self, q: Quantized, error: torch.Tensor) -> int:
        """Count code usage; every ``dead_code_reset_every`` calls move the unused codes onto
        the encoder outputs of this batch's badly reconstructed tokens, worst first (the
        objects the codebook misses). ``error``: reconstruction minus target in [-1, 1].
        Returns the number of codes moved."""
        self.usage += torch.bincount(q.tokens.flatten(), minlength=self.cfg.vocab_size)
        self.steps_since_reset += 1
        if self.steps_since_reset < self.cfg.dead_code_reset_every:
            return 0
        dead = (self.usage == 0).nonzero().squeeze(1)
        self.usage.zero_()
        self.steps_since_reset = 0
        flat = q.z.permute(0, 2, 3, 1).reshape(-1, q.z.shape[1])
        # squared error of each token's patch (summed over channels, mean over its pixels);
        # only clearly wrong patches (a missed object: ~1, a learned one: ~1e-3) are targets,
        # so codes in use are never moved onto patterns that already have a code
        err = F.adaptive_avg_pool2d(error.pow(2).sum(1, keepdim=True), q.z.shape[-2:]).flatten()
        worst = err.argsort(descending=True)[: int((err > MISSED_PATCH_ERROR).sum())]
        if not len(worst) or not len(dead):
            return 0
        # one code per distinct encoder output (equal patches give equal outputs), worst first
        _, group = torch.unique(flat[worst], dim=0, return_inverse=True)
        first = torch.full((int(group.max()) + 1,), len(worst), dtype=torch.long, device=group.device)
        first.scatter_reduce_(0, group, torch.arange(len(worst), device=group.device), "amin")
        chosen = worst[first.sort().values][: len(dead)]
        self.codebook.weight[dead[: len(chosen)]] = flat[chosen]
        return len(chosen)


@torch.no_grad()
def chunked(fn, x: torch.Tensor, chunk: int) -> torch.Tensor:
    """Apply ``fn`` to ``x`` in chunks along dim 0: big no-grad tokenizer passes over 1280
    frames at once thrash the caches (the reference's 24 s encode); chunks stay fast."""
    if x.shape[0] <= chunk:
        return fn(x)
    return torch.cat([fn(part) for part in x.split(chunk)], 0)
