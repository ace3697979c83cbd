"""The diffusion denoiser D_θ with EDM preconditioning (paper §2.3/§3, Karras et al. 2022).

D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x, c_noise(σ), past frames / σ_data, past actions)

where F is the U-Net (:class:`InnerModel`). As in the reference code, the preconditioners are
evaluated at the *effective* noise level σ_eff = √(σ² + σ_offset²): training adds offset noise
(constant per sample and channel, std σ_offset) on top of the i.i.d. Gaussian noise so that the
model also learns low frequencies. Frames live in [-1, 1]; every denoised estimate is clamped
and quantised to 256 levels, like the uint8 frames it imitates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_diamond.configs import DenoiserConfig
from wmbench_diamond.unet import FourierFeatures, UNet, conv3x3, group_norm, to_layout


@dataclass
class Conditioners:
    c_in: torch.Tensor
    c_out: torch.Tensor
    c_skip: torch.Tensor
    c_noise: torch.Tensor


def edm_conditioners(sigma: torch.Tensor, sigma_data: float, sigma_offset_noise: float) -> Conditioners:
    """EDM preconditioning coefficients at σ_eff = √(σ² + σ_offset²), shaped (B, 1, 1, 1)
    (c_noise: (B,))."""
    s = (sigma**2 + sigma_offset_noise**2).sqrt()
    var = s**2 + sigma_data**2
    c_in = var.rsqrt()
    c_skip = sigma_data**2 / var
    c_out = s * sigma_data * var.rsqrt()
    c_noise = s.log() / 4
    view = (-1, 1, 1, 1)
    return Conditioners(c_in.view(view), c_out.view(view), c_skip.view(view), c_noise)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [-1, 1] and snap to the 256 levels of a uint8 frame."""
    return x.clamp(-1, 1).add(1).mul(127.5).round().div(127.5).sub(1)


class InnerModel(nn.Module):
    """F: U-Net over [past frames / σ_data ‖ c_in·x] conditioned (AdaGN) on noise and actions."""

    def __init__(self, cfg: DenoiserConfig, num_actions: int, img_channels: int = 3) -> None:
        super().__init__()
        L, cond = cfg.num_steps_conditioning, cfg.cond_channels
        if cond % L:
            raise ValueError("denoiser.cond_channels must be divisible by num_steps_conditioning")
        self.channels_last = False  # set by DiamondModels
        self.noise_emb = FourierFeatures(cond)
        self.act_emb = nn.Embedding(num_actions, cond // L)  # flattened over the L actions
        self.cond_proj = nn.Sequential(nn.Linear(cond, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.conv_in = conv3x3((L + 1) * img_channels, cfg.channels[0])
        self.unet = UNet(cond, cfg.depths, cfg.channels, cfg.attn_depths)
        self.norm_out = group_norm(cfg.channels[0])
        self.conv_out = conv3x3(cfg.channels[0], img_channels)
        nn.init.zeros_(self.conv_out.weight)  # reference: weight only (the bias keeps its default init)

    def forward(
        self, noisy: torch.Tensor, c_noise: torch.Tensor, obs: torch.Tensor, act: torch.Tensor
    ) -> torch.Tensor:
        """noisy (B,C,H,W) already scaled by c_in; obs (B,L*C,H,W) already / σ_data; act (B,L)."""
        cond = self.cond_proj(self.noise_emb(c_noise) + self.act_emb(act).flatten(1))
        x = self.conv_in(to_layout(torch.cat([obs, noisy], dim=1), self.channels_last))
        x = self.unet(x, cond)
        return self.conv_out(F.silu(self.norm_out(x)))


class Denoiser(nn.Module):
    def __init__(self, cfg: DenoiserConfig, num_actions: int, img_channels: int = 3) -> None:
        super().__init__()
        self.cfg = cfg
        self.inner_model = InnerModel(cfg, num_actions, img_channels)

    def conditioners(self, sigma: torch.Tensor) -> Conditioners:
        return edm_conditioners(sigma, self.cfg.sigma_data, self.cfg.sigma_offset_noise)

    def model_output(
        self, noisy: torch.Tensor, obs: torch.Tensor, act: torch.Tensor, cs: Conditioners
    ) -> torch.Tensor:
        """F's raw output. obs: (B, L, C, H, W) in [-1, 1]; act: (B, L)."""
        return self.inner_model(
            noisy * cs.c_in, cs.c_noise, obs.flatten(1, 2) / self.cfg.sigma_data, act
        )

    @torch.no_grad()
    def denoise(
        self, noisy: torch.Tensor, sigma: torch.Tensor, obs: torch.Tensor, act: torch.Tensor
    ) -> torch.Tensor:
        """D(x; σ), clamped and quantised (the sampler's call)."""
        cs = self.conditioners(sigma)
        out = self.model_output(noisy, obs, act, cs).float()
        return quantize(cs.c_skip * noisy + cs.c_out * out)

    def sample_sigma(
        self, n: int, device: torch.device | str, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Log-normal training noise levels, clipped (EDM's P_mean / P_std)."""
        z = torch.randn(n, device=device, generator=generator)
        s = (z * self.cfg.sigma_scale + self.cfg.sigma_loc).exp()
        return s.clamp(self.cfg.sigma_min, self.cfg.sigma_max)

    def compute_loss(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        backward: bool = False,
    ) -> torch.Tensor:
        """Denoising loss over a segment of L + 1 + k frames (k autoregressive steps).

        With ``backward`` each step's share of the loss is back-propagated as soon as it is
        computed (same gradients, since the next step's input is detached; half the memory) and
        the returned loss is detached.

        obs (B, T, C, H, W) in [-1, 1], act (B, T), mask (B, T) (False = padding). Frame L + i
        is predicted from the L frames before it; after each step the detached, quantised
        one-shot estimate replaces the true frame, so the next step conditions on the model's
        own output (the reference's cheap autoregressive-robustness trick).
        """
        L = self.cfg.num_steps_conditioning
        steps = obs.shape[1] - L
        b, _, c = obs.shape[:3]
        all_obs = obs.clone()
        loss = obs.new_zeros(())
        for i in range(steps):
            target = all_obs[:, L + i]
            m = mask[:, L + i]
            sigma = self.sample_sigma(b, obs.device, generator)
            offset = self.cfg.sigma_offset_noise * torch.randn(
                b, c, 1, 1, device=obs.device, generator=generator
            )
            noise = torch.randn(target.shape, device=obs.device, generator=generator)
            noisy = target + offset + noise * sigma.view(-1, 1, 1, 1)
            cs = self.conditioners(sigma)
            out = self.model_output(noisy, all_obs[:, i : L + i], act[:, i : L + i], cs)
            want = (target - cs.c_skip * noisy) / cs.c_out
            per_sample = (out - want).pow(2).flatten(1).mean(1)
            # mean over the valid samples (the reference's mse over masked rows)
            step_loss = (per_sample * m).sum() / m.sum().clamp(min=1) / steps
            with torch.no_grad():
                all_obs[:, L + i] = quantize(cs.c_skip * noisy + cs.c_out * out)
            if backward:
                step_loss.backward()
                step_loss = step_loss.detach()
            loss = loss + step_loss
        return loss
