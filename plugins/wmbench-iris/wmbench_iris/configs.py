"""IRIS hyperparameters: dataclasses whose defaults are the paper's / reference code's values.

Sources: Micheli, Alonso & Fleuret, "Transformers are Sample-Efficient World Models", ICLR 2023
(arXiv 2209.00588), Table 5 and App. A; reference code eloialonso/iris @ 24326aa,
``config/{tokenizer,world_model,actor_critic,trainer}.yaml`` (see shared/research/iris.md).

``atari100k`` is these defaults; ``tiny`` shrinks sizes and the schedule so the same code learns
the ``catch`` toy game on a CPU in minutes. Override anything with ``--set section.key=value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TokenizerConfig:
    vocab_size: int = 512  # N, codebook entries (tokenizer/default.yaml)
    embed_dim: int = 512  # codebook vector size (tokenizer/default.yaml)
    z_channels: int = 512  # encoder output channels (tokenizer/default.yaml)
    ch: int = 64  # base channels (tokenizer/default.yaml)
    ch_mult: tuple[int, ...] = (1, 1, 1, 1, 1)  # 5 resolutions 64..4 -> 4x4 = 16 tokens
    num_res_blocks: int = 2  # per encoder level; the decoder uses one more (taming layout)
    attn_resolutions: tuple[int, ...] = (8, 16)  # self-attention at low resolutions (paper A.1)
    # Input frames are 64x64 RGB (paper §3). A smaller value area-resizes them first (tiny only:
    # its small models could not see catch's ball at 64x64; the 8x8 cells survive exactly).
    # The decoder, and so the policy, then sees frames of this size.
    resolution: int = 64
    # 0: the encoder and decoder see the whole frame (paper). Otherwise they see each
    # patch_size x patch_size patch alone and a token depends on its own patch only (tiny only:
    # whole-frame tiny encoders spread catch's empty background over most codes, depending on
    # where the ball and paddle are, and the tiny world model could not predict such tokens).
    patch_size: int = 0
    norm_groups: int = 32  # GroupNorm(32) as in taming-transformers
    dropout: float = 0.0  # tokenizer/default.yaml
    # Codebook initialised uniform in ±scale/vocab_size (reference: scale 1; no preset changes it,
    # a knob for experiments with small codebooks).
    codebook_init_scale: float = 1.0
    # Every this many training steps, codes no frame of those steps used are moved onto the
    # batch's worst-quantised encoder outputs (0 = never: the reference has no codebook reset).
    # Tiny only: its codebook otherwise collapses to a few codes for the empty background and
    # catch's ball, 1/16 of one token's area, never gets a code of its own.
    dead_code_reset_every: int = 0
    # Resets happen only during the first this many tokenizer steps (0 = for as long as resets
    # are on). Tiny only: once every pattern has a code, later resets only move token identities
    # under the world model, whose next-token accuracy then stalled at 0.88.
    dead_code_reset_until: int = 0
    commitment_beta: float = 1.0  # weight of the commitment term (reference code, β = 1)
    perceptual_weight: float = 1.0  # LPIPS term weight (reference: 1)
    # Extra squared-error reconstruction term; the paper has none (0). L1 alone predicts the
    # per-pixel median, which is black for small sparse objects until codes carry them, so the
    # tiny preset (no perceptual loss available) adds it to learn catch's ball in minutes.
    l2_weight: float = 0.0
    # Path to a VGG16+LPIPS weights file (see perceptual_loss.py). The reference downloads these at
    # run time; we never download, so without a file the perceptual term is off (a deviation,
    # recorded as ``perceptual_loss_active`` in the resolved config).
    perceptual_weights: str = ""


@dataclass
class WorldModelConfig:
    tokens_per_block: int = 17  # 16 frame tokens + 1 action token (world_model/default.yaml)
    max_blocks: int = 20  # L = 20 frames of context, 340 tokens (world_model/default.yaml)
    num_layers: int = 10  # (world_model/default.yaml, paper Table 5)
    num_heads: int = 4  # (world_model/default.yaml)
    embed_dim: int = 256  # (world_model/default.yaml)
    embed_pdrop: float = 0.1  # dropout on embeddings (world_model/default.yaml)
    resid_pdrop: float = 0.1  # dropout on residual branches (world_model/default.yaml)
    attn_pdrop: float = 0.1  # dropout on attention weights (world_model/default.yaml)


@dataclass
class ActorCriticConfig:
    conv_channels: tuple[int, ...] = (32, 32, 64, 64)  # 4 conv+maxpool stages (actor_critic.py)
    lstm_dim: int = 512  # LSTMCell 1024 -> 512 (actor_critic.py)
    imagine_horizon: int = 20  # H (trainer.yaml, paper Table 5)
    burn_in: int = 20  # real frames that warm up the LSTM (trainer.yaml burn_in)
    gamma: float = 0.995  # discount (trainer.yaml)
    lambda_: float = 0.95  # λ of the λ-returns (trainer.yaml)
    entropy_weight: float = 0.001  # (trainer.yaml)
    # False (reference, every preset): every imagined step counts in the loss, also after an
    # imagined termination. True (an experiment on catch, README; no preset sets it): steps after
    # the first predicted end are left out (weight 0), as Dreamer's continue weights do.
    mask_after_end: bool = False
    # True (reference, every preset): frames enter the CNN scaled to [-1, 1]. False (an experiment
    # on catch, README; no preset sets it): as they are, in [0, 1].
    centered_input: bool = True


@dataclass
class TrainingConfig:
    collect_steps_per_epoch: int = 200  # env steps collected per epoch (trainer.yaml collection)
    # 500 collection epochs are followed by 100 training-only epochs (trainer.yaml: 600 epochs,
    # collection stops after 500): training-only epochs = this ratio x collection epochs.
    train_only_epochs_ratio: float = 0.2
    tokenizer_start_after_epochs: int = 5  # (trainer.yaml start_after_epochs)
    # The tokenizer trains in every epoch after its start (paper, trainer.yaml): 0 = never stops.
    # Otherwise it stops after this epoch and its tokens stay fixed (tiny only: see the preset).
    tokenizer_stop_after_epochs: int = 0
    world_model_start_after_epochs: int = 25  # (trainer.yaml)
    actor_critic_start_after_epochs: int = 50  # (trainer.yaml)
    tokenizer_steps_per_epoch: int = 200  # (trainer.yaml steps_per_epoch)
    world_model_steps_per_epoch: int = 200
    actor_critic_steps_per_epoch: int = 200
    tokenizer_batch_size: int = 256  # frames (trainer.yaml batch_num_samples)
    world_model_batch_size: int = 64  # segments of max_blocks frames (trainer.yaml)
    actor_critic_batch_size: int = 64  # segments of burn_in + 1 frames (trainer.yaml)
    tokenizer_lr: float = 1e-4  # Adam, no schedule (trainer.yaml learning_rate)
    world_model_lr: float = 1e-4  # AdamW
    actor_critic_lr: float = 1e-4  # Adam
    world_model_weight_decay: float = 0.01  # AdamW on Linear weights only (world_model.py)
    max_grad_norm: float = 10.0  # (trainer.yaml max_grad_norm)
    collect_temperature: float = 1.0  # training collection samples the policy (trainer.yaml)
    collect_epsilon: float = 0.01  # ε-greedy during collection (trainer.yaml)
    test_temperature: float = 0.5  # evaluation policy temperature (trainer.yaml evaluation)
    imagine_temperature: float = 1.0  # frame-token sampling in imagination (world_model_env.py)
    life_loss_terminal: bool = True  # EpisodicLife on the training env (env/default.yaml)
    inference_chunk: int = 128  # frames per no-grad tokenizer call (memory locality; not a paper value)
    token_cache: bool = True  # reuse tokens of a frame until the tokenizer changes (exact)
    log_every: int = 20  # updates between loss rows in losses.csv


@dataclass
class IrisConfig:
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)


PRESETS: dict[str, dict[str, Any]] = {
    # The paper's Atari 100k setting: every default above.
    "atari100k": {},
    # Same code, small enough to learn `catch` (7-step episodes, 3 actions) on a CPU in minutes.
    "tiny": {
        "tokenizer.resolution": 16,  # area-resized frames (see TokenizerConfig.resolution)
        "tokenizer.patch_size": 4,  # each token encodes its own 4x4 patch (2x2 catch cells)
        "tokenizer.vocab_size": 32,
        "tokenizer.embed_dim": 16,
        "tokenizer.z_channels": 32,
        "tokenizer.ch": 16,
        "tokenizer.ch_mult": (1, 2, 2),  # 4x4 patch -> 1 token; 16 per frame, as in the paper
        "tokenizer.num_res_blocks": 1,
        "tokenizer.attn_resolutions": (),
        "tokenizer.norm_groups": 4,
        "tokenizer.l2_weight": 100.0,
        "tokenizer.dead_code_reset_every": 10,
        "world_model.max_blocks": 8,
        "world_model.num_layers": 2,
        "world_model.num_heads": 2,
        "world_model.embed_dim": 64,
        "world_model.embed_pdrop": 0.0,
        "world_model.resid_pdrop": 0.0,
        "world_model.attn_pdrop": 0.0,
        "actor_critic.conv_channels": (16, 32),  # 16x16 -> 32x4x4 features
        "actor_critic.lstm_dim": 64,
        "actor_critic.imagine_horizon": 8,
        "actor_critic.burn_in": 4,
        "actor_critic.gamma": 0.97,
        "actor_critic.entropy_weight": 0.01,
        "training.collect_steps_per_epoch": 100,
        "training.train_only_epochs_ratio": 0.0,
        # Staged like the paper (tokenizer, then world model, then actor-critic), but the tokenizer
        # stops before the world model starts, so the world model only ever sees fixed token
        # identities (when it trained beside a moving tokenizer its imagination got worse).
        "training.tokenizer_start_after_epochs": 1,
        "training.tokenizer_stop_after_epochs": 5,  # 4 epochs x 125 = 500 tokenizer steps
        "training.world_model_start_after_epochs": 5,
        "training.actor_critic_start_after_epochs": 12,  # after 1,050 world-model updates
        "training.tokenizer_steps_per_epoch": 125,
        "training.world_model_steps_per_epoch": 150,  # 3,450 in 2,800 env steps (catch's dynamics: ~1,250)
        "training.actor_critic_steps_per_epoch": 75,  # 1,200 in 2,800 env steps
        "training.tokenizer_batch_size": 32,
        "training.world_model_batch_size": 32,
        "training.actor_critic_batch_size": 32,
        "training.tokenizer_lr": 2e-3,
        "training.world_model_lr": 1e-3,
        "training.actor_critic_lr": 1e-3,
        "training.collect_epsilon": 0.05,
        "training.log_every": 10,
    },
}

#: env steps ``wmbench run`` trains the tiny preset for when --train-steps is not given
TINY_TRAIN_STEPS = 2800
