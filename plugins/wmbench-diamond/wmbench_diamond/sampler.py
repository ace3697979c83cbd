"""Next-frame sampler: Euler (or Heun) integration of the EDM probability-flow ODE.

Noise levels follow the Karras et al. ρ-schedule from σ_max down to σ_min, with a final σ = 0
appended; DIAMOND uses 3 deterministic Euler steps (NFE = 3 per frame): 5.0 → 0.283 → 0.002 → 0.
As in the reference code, the initial sample is N(0, I) (not scaled by σ_max: c_skip ≈ 0.01 at
σ = 5, so the difference is negligible).
"""

from __future__ import annotations

import torch

from wmbench_diamond.configs import SamplerConfig
from wmbench_diamond.denoiser import Denoiser


def karras_sigmas(num_steps: int, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    """ρ-schedule of ``num_steps`` noise levels from σ_max to σ_min, then a trailing 0."""
    ramp = torch.linspace(0, 1, num_steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)]).float()


class DiffusionSampler:
    def __init__(self, denoiser: Denoiser, cfg: SamplerConfig) -> None:
        if cfg.order not in (1, 2):
            raise ValueError("sampler.order must be 1 (Euler) or 2 (Heun)")
        self.denoiser = denoiser
        self.cfg = cfg
        self.sigmas = karras_sigmas(cfg.num_steps, cfg.sigma_min, cfg.sigma_max, cfg.rho)

    @torch.no_grad()
    def sample(
        self, obs: torch.Tensor, act: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Next frame (B, C, H, W) given the past L frames (B, L, C, H, W) and actions (B, L)."""
        b, _, c, h, w = obs.shape
        x = torch.randn(b, c, h, w, device=obs.device, generator=generator)
        sigmas = self.sigmas.tolist()
        for s, s_next in zip(sigmas[:-1], sigmas[1:]):
            sigma = torch.full((b,), s, device=obs.device)
            denoised = self._denoise(x, sigma, obs, act)
            d = (x - denoised) / s
            x_next = x + d * (s_next - s)
            if self.cfg.order == 2 and s_next > 0:  # Heun correction
                sigma_next = torch.full((b,), s_next, device=obs.device)
                d2 = (x_next - self._denoise(x_next, sigma_next, obs, act)) / s_next
                x_next = x + (d + d2) / 2 * (s_next - s)
            x = x_next
        return x

    def _denoise(self, x: torch.Tensor, sigma: torch.Tensor, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        # the network may run in bfloat16; the ODE state and the quantised estimate stay fp32
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.cfg.bf16):
            return self.denoiser.denoise(x, sigma, obs, act).float()
