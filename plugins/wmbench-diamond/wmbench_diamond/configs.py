"""DIAMOND's configuration: dataclasses whose defaults are the Atari 100k settings.

Sources: "code" = eloialonso/diamond at 5bcd159 (``config/agent/default.yaml``,
``config/trainer.yaml``); "paper" = arXiv 2405.12399v2 (App. E/F). See
shared/research/diamond.md for every value. ``--set`` keys use dots for nested sections,
e.g. ``--set actor_critic.horizon=10`` or ``--set training.updates_per_epoch=2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wmbench_core.learning.config import require_at_least, resolve_config


@dataclass
class DenoiserConfig:
    channels: tuple[int, ...] = (64, 64, 64, 64)  # code: inner_model.channels
    depths: tuple[int, ...] = (2, 2, 2, 2)  # code: inner_model.depths
    attn_depths: tuple[int, ...] = (0, 0, 0, 0)  # code: only the middle blocks attend
    cond_channels: int = 256  # code: inner_model.cond_channels
    num_steps_conditioning: int = 4  # code + paper §3: L = 4 stacked past frames/actions
    sigma_data: float = 0.5  # code: EDM sigma_data
    sigma_offset_noise: float = 0.3  # code only (issue #36): per-channel offset noise
    sigma_loc: float = -0.4  # code: log-normal training noise, mean of ln sigma (EDM P_mean)
    sigma_scale: float = 1.2  # code: std of ln sigma (EDM P_std)
    sigma_min: float = 2e-3  # code: training sigma clipped to [sigma_min, sigma_max]
    sigma_max: float = 20.0  # code
    num_autoregressive_steps: int = 1  # code: 1 extra step -> loss over 2 prediction steps
    train_on_final_obs: bool = False  # code: the denoiser never sees terminal frames (see README)
    batch_size: int = 32  # code: training.denoiser.batch_size
    lr: float = 1e-4  # code: AdamW lr
    weight_decay: float = 1e-2  # code: Linear/Conv weights only
    eps: float = 1e-8  # code
    warmup_steps: int = 100  # code: linear warm-up, then constant
    max_grad_norm: float = 1.0  # code


@dataclass
class SamplerConfig:
    num_steps: int = 3  # paper §5.2 / App. L: n = 3 everywhere
    sigma_min: float = 2e-3  # code: world_model_env.diffusion_sampler
    sigma_max: float = 5.0  # code
    rho: float = 7.0  # code: Karras schedule exponent
    order: int = 1  # code: Euler (deterministic, s_churn = 0); 2 = Heun
    bf16: bool = False  # not in the paper: bfloat16 autocast for imagination (CPU speed, opt-in)


@dataclass
class RewEndConfig:
    channels: tuple[int, ...] = (32, 32, 32, 32)  # code: rew_end_model.channels
    depths: tuple[int, ...] = (2, 2, 2, 2)  # code
    attn_depths: tuple[int, ...] = (0, 0, 0, 0)  # code (+ 2 attention blocks at 8x8)
    cond_channels: int = 128  # code: action embedding size
    lstm_dim: int = 512  # code
    seq_length: int = 19  # code: horizon 15 + 4 conditioning frames
    batch_size: int = 32  # code
    lr: float = 1e-4  # code
    weight_decay: float = 1e-2  # code
    eps: float = 1e-8  # code
    warmup_steps: int = 100  # code
    max_grad_norm: float = 100.0  # code


@dataclass
class ActorCriticConfig:
    channels: tuple[int, ...] = (32, 32, 64, 64)  # code: actor_critic.channels
    down: tuple[int, ...] = (1, 1, 1, 1)  # code: 2x2 max-pool after each stage
    # "cnn" = the paper's CNN above. "conv_relu" (tiny-only deviation): [0, 1] frames -> one
    # conv3x3 of channels[0] -> ReLU, because the GroupNorm CNN on catch's mostly-background
    # frames feeds the LSTM a near-constant input, and REINFORCE + Adam then needed ~5x the
    # samples on the real env (plugin README)
    encoder: str = "cnn"
    lstm_dim: int = 512  # code
    batch_size: int = 32  # code: 32 parallel imagined rollouts
    horizon: int = 15  # code + paper App. F: H = 15
    gamma: float = 0.985  # paper App. F
    lambda_: float = 0.95  # paper App. F
    entropy_weight: float = 1e-3  # paper App. F: eta
    value_weight: float = 1.0  # code: weight_value_loss
    temperature: float = 1.0  # code: policy sampled at temperature 1 (see per-game presets)
    lr: float = 1e-4  # code
    weight_decay: float = 0.0  # code
    eps: float = 1e-8  # code
    warmup_steps: int = 100  # code
    max_grad_norm: float = 100.0  # code


@dataclass
class TrainingConfig:
    initial_collect_min: int = 5000  # code: collection.train.first_epoch.min
    initial_collect_max: int = 10000  # code: first_epoch.max
    threshold_rew: int = 10  # code: first_epoch.threshold_rew (minority reward class count)
    collect_chunk: int = 100  # code: first-epoch collection goes in chunks of 100
    env_steps_per_epoch: int = 100  # code: collection.train.steps_per_epoch
    updates_per_epoch: int = 400  # code: steps_per_epoch of each component
    # code: each component has its own steps_per_epoch (all 400); None = updates_per_epoch
    updates_per_epoch_rew_end: int | None = None
    updates_per_epoch_actor_critic: int | None = None
    first_epoch_updates_denoiser: int = 10000  # code: denoiser.start_after_epochs / steps_first_epoch
    first_epoch_updates_rew_end: int = 10000  # code
    first_epoch_updates_actor_critic: int = 5000  # code
    final_epochs: int = 50  # code: num_final_epochs, training without collection
    sample_weights: tuple[float, ...] = (0.1, 0.1, 0.1, 0.7)  # code: by episode-index quarters
    collect_epsilon: float = 0.01  # code: collection.train.epsilon
    done_on_life_loss: bool = True  # code: env.train.done_on_life_loss
    num_threads: int = 0  # not in the paper: torch intra-op threads (0 = torch's default)
    channels_last: bool = True  # not in the paper: NHWC activations of inference passes, faster on CPU
    gif_steps: int = 20  # not in the paper: imagined clip saved next to results (0 = none)


@dataclass
class DiamondConfig:
    image_size: int = 64  # paper: 64x64 RGB frames; smaller sizes area-resize (toy presets)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    rew_end: RewEndConfig = field(default_factory=RewEndConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)


# Presets: overrides on top of the defaults above. ``tiny`` is the same code with small nets,
# 8x8 frames (catch's 8x8 grid of cells survives an area resize exactly) and a short schedule.
PRESETS: dict[str, dict[str, Any]] = {
    "atari100k": {},
    "tiny": {
        "image_size": 8,
        "denoiser.channels": (32, 32),
        "denoiser.depths": (1, 1),
        "denoiser.attn_depths": (0, 0),
        "denoiser.cond_channels": 64,
        "denoiser.train_on_final_obs": True,
        "denoiser.lr": 1e-3,
        "denoiser.warmup_steps": 20,
        "rew_end.channels": (16, 16, 16),
        "rew_end.depths": (1, 1, 1),
        "rew_end.attn_depths": (0, 0, 0),
        "rew_end.cond_channels": 32,
        "rew_end.lstm_dim": 64,
        "rew_end.seq_length": 10,
        "rew_end.lr": 1e-3,
        "rew_end.warmup_steps": 20,
        "actor_critic.encoder": "conv_relu",  # deviation, see ActorCriticConfig.encoder
        "actor_critic.channels": (16,),
        "actor_critic.down": (0,),  # keep catch's 8 columns apart
        "actor_critic.lstm_dim": 256,  # 64 could not even fit the optimal action (supervised)
        "actor_critic.horizon": 6,
        "actor_critic.lr": 3e-3,
        "actor_critic.entropy_weight": 1e-2,
        "actor_critic.warmup_steps": 20,
        "training.initial_collect_min": 500,
        "training.initial_collect_max": 1000,
        "training.env_steps_per_epoch": 100,
        "training.updates_per_epoch": 25,
        "training.first_epoch_updates_denoiser": 400,
        "training.first_epoch_updates_rew_end": 200,
        "training.first_epoch_updates_actor_critic": 20,
        # the world model knows catch after its first epoch: the policy is what needs updates.
        # With 25 per epoch and 4 final epochs seed 2 failed (-0.36); with 50 and 6, seed 3 did
        # (-0.30); with 50 and 10 (1020 actor-critic updates) seeds 0-4 scored
        # 0.98 0.80 1.00 0.80 0.98, but seed 1 failed (-0.34) once AdaGroupNorm summed in another
        # order; with 2000 env steps (TINY_TRAIN_STEPS) seeds 0-4 scored 0.82 0.60 1.00 0.98 1.00;
        # after the reference alignment of 2026-12-04 (README) seeds 0-2 scored 1.00 0.52 0.68
        "training.updates_per_epoch_actor_critic": 50,
        # catch's +1 is rare (a poor policy catches < 10% of balls: 23 of 2000 steps on seed 1):
        # with 25 updates per epoch at lr 1e-3 the reward model's P(+1) on the real catches swung
        # between 0.35 and 0.9 from one update count to the next, imagined catches were scored -1
        # and the policy had nothing to learn from (seeds 1 and 2 failed on an AVX-512 CPU whose
        # rounding differs). 100 (0.05 s each at this size) keep it trained on them (plugin README)
        "training.updates_per_epoch_rew_end": 100,
        # 11: since epoch 1 collects (as in the reference) there is one collecting epoch fewer;
        # one more final epoch keeps the 1270 actor-critic updates the seeds above were run with
        "training.final_epochs": 11,
        "training.channels_last": False,  # 8x8 maps: the layout change costs more than it saves
    },
}

#: Per-game values applied on top of a preset (and recorded in the resolved config).
#: Freeway: DIAMOND used IRIS's low policy-sampling temperature (issue #34; not in the released
#: code). The exact value is not published in the DIAMOND repo; 0.01 is our reading of IRIS
#: App. H (unverified).
GAME_PRESETS: dict[str, dict[str, Any]] = {
    "Freeway": {"actor_critic.temperature": 0.01},
}

#: Env steps the ``tiny`` preset trains for by default (catch: ~7 steps per episode). 1500 left
#: most of the policy's learning to the final epochs, without real data to correct what it learned
#: from the world model: a seed that learned late could score well in imagination (+0.6) and -0.3
#: in the real env. 500 more steps (5 more collecting epochs) fixed it (plugin README).
TINY_TRAIN_STEPS = 2000


def make_config(
    preset: str | None, overrides: dict[str, Any] | None = None, game: str | None = None
) -> tuple[DiamondConfig, str]:
    """Resolve preset + per-game values + ``--set`` overrides (the latter win)."""
    name = preset or next(iter(PRESETS))
    merged: dict[str, Any] = {}
    if game is not None:
        base = game.split("/")[-1].split("-")[0]
        merged.update(GAME_PRESETS.get(base, {}))
    merged.update(overrides or {})
    config = resolve_config(DiamondConfig, PRESETS, name, merged)
    validate(config)
    return config, name


#: keys that count or size something: 0 would build an empty network or never advance training
#: (0 env steps per epoch, collection in chunks of 0)
AT_LEAST_ONE = (
    "image_size", "denoiser.batch_size", "denoiser.num_steps_conditioning", "sampler.num_steps",
    "rew_end.cond_channels", "rew_end.seq_length", "rew_end.batch_size", "actor_critic.lstm_dim",
    "actor_critic.batch_size", "actor_critic.horizon", "training.collect_chunk",
    "training.env_steps_per_epoch",
)  # fmt: skip


def validate(config: DiamondConfig) -> None:
    """One-line ConfigError for values the networks or the schedule cannot work with (signs are
    checked by resolve_config)."""
    from wmbench_core.agent import ConfigError

    def get(key: str) -> Any:
        section, _, name = key.rpartition(".")
        return getattr(getattr(config, section) if section else config, name)

    require_at_least(config, AT_LEAST_ONE)
    cond = config.denoiser.cond_channels
    if cond < 2 or cond % 2:  # Fourier features of the noise level: cos and sin halves
        raise ConfigError(f"config key 'denoiser.cond_channels' must be even and >= 2, got {cond}")
    for key in ("denoiser.channels", "rew_end.channels", "actor_critic.channels"):
        if not get(key) or min(get(key)) < 1:
            raise ConfigError(f"config key {key!r} must list channel counts >= 1, got {get(key)}")
    for key in ("denoiser.channels", "rew_end.channels"):  # a U-Net/encoder halves the frame per level
        factor = 2 ** (len(get(key)) - 1)
        if config.image_size % factor:
            raise ConfigError(f"config key 'image_size' ({config.image_size}) must be divisible by "
                              f"{factor} for {len(get(key))} levels of {key}")
