"""Fast tests of the DIAMOND plugin (the learning tests are in test_diamond_learning.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from wmbench_diamond.actor_critic import actor_critic_loss
from wmbench_diamond.agent import DiamondAgent
from wmbench_diamond.configs import ActorCriticConfig, DenoiserConfig, SamplerConfig, make_config
from wmbench_diamond.data import DiamondDataset, recency_weighted_episodes
from wmbench_diamond.denoiser import Denoiser, edm_conditioners, quantize
from wmbench_diamond.sampler import DiffusionSampler, karras_sigmas
from wmbench_diamond.trainer import DiamondModels
from wmbench_diamond.unet import AdaGroupNorm, to_layout

from wmbench_core.agent import CheckpointError, ConfigError
from wmbench_core.envs import make_env_spec
from wmbench_core.learning.monitor import NonFiniteLossError

# A schedule small enough for unit tests (catch, tiny nets).
QUICK = {
    "training.initial_collect_min": 40,
    "training.threshold_rew": 1,
    "training.initial_collect_max": 60,
    "training.env_steps_per_epoch": 20,
    "training.updates_per_epoch": 1,
    "training.updates_per_epoch_actor_critic": 1,
    "training.updates_per_epoch_rew_end": 1,
    "training.first_epoch_updates_denoiser": 2,
    "training.first_epoch_updates_rew_end": 2,
    "training.first_epoch_updates_actor_critic": 1,
    "training.final_epochs": 1,
    "training.gif_steps": 3,
    "denoiser.batch_size": 4,
    "rew_end.batch_size": 4,
    "actor_critic.batch_size": 4,
}


# small models: one torch thread is faster and does not fight other tests for the cores
pytestmark = pytest.mark.usefixtures("wmbench_one_torch_thread")


def catch_agent(tmp_path=None, seed: int = 0, **over) -> DiamondAgent:
    return DiamondAgent(env=make_env_spec("catch"), preset="tiny", seed=seed, work_dir=tmp_path, **{**QUICK, **over})


# -- EDM preconditioning, noise, sampler -------------------------------------------------------
def test_edm_conditioners_match_hand_computed_values():
    # σ = 1 with offset noise 0.3: σ_eff = √1.09, σ_eff² + σ_data² = 1.34
    cs = edm_conditioners(torch.tensor([1.0]), sigma_data=0.5, sigma_offset_noise=0.3)
    assert cs.c_in.item() == pytest.approx(0.8638684256, rel=1e-6)
    assert cs.c_skip.item() == pytest.approx(0.1865671642, rel=1e-6)  # 0.25 / 1.34
    assert cs.c_out.item() == pytest.approx(0.4509525573, rel=1e-6)
    assert cs.c_noise.item() == pytest.approx(0.0107722120, rel=1e-5)  # ln(√1.09) / 4
    # plain EDM (no offset) at σ = σ_data: c_skip = 1/2, c_out = σ_data/√2, c_in = √2
    cs = edm_conditioners(torch.tensor([0.5]), sigma_data=0.5, sigma_offset_noise=0.0)
    assert cs.c_skip.item() == pytest.approx(0.5)
    assert cs.c_out.item() == pytest.approx(0.3535533906, rel=1e-6)
    assert cs.c_in.item() == pytest.approx(1.4142135624, rel=1e-6)
    assert cs.c_noise.item() == pytest.approx(math.log(0.5) / 4, rel=1e-6)
    # the EDM identity c_skip + c_out² / σ_data² = 1 holds at every level
    s = torch.tensor([0.01, 0.3, 2.0, 20.0])
    cs = edm_conditioners(s, 0.5, 0.3)
    assert torch.allclose(cs.c_skip.flatten() + cs.c_out.flatten() ** 2 / 0.25, torch.ones(4))


def test_training_noise_is_clipped_log_normal():
    d = Denoiser(DenoiserConfig(channels=(8,), depths=(1,), attn_depths=(0,), cond_channels=8), 3)
    g = torch.Generator().manual_seed(0)
    s = d.sample_sigma(200_000, "cpu", g)
    assert s.min() >= 2e-3 and s.max() <= 20.0
    log_s = s.log()
    assert log_s.median().item() == pytest.approx(-0.4, abs=0.02)  # P_mean
    q16, q84 = torch.quantile(log_s[:100_000], torch.tensor([0.1587, 0.8413]))
    assert ((q84 - q16) / 2).item() == pytest.approx(1.2, abs=0.03)  # P_std


def test_sampler_sigma_sequence():
    sig = karras_sigmas(3, 2e-3, 5.0, 7.0)
    # (5^(1/7) + ½ (0.002^(1/7) − 5^(1/7)))^7 = 0.28308 for the middle level
    assert sig.tolist() == pytest.approx([5.0, 0.2830819, 0.002, 0.0], rel=1e-5)
    small = DenoiserConfig(channels=(8,), depths=(1,), attn_depths=(0,), cond_channels=8)
    assert DiffusionSampler(Denoiser(small, 4), SamplerConfig()).sigmas.tolist() == pytest.approx(
        sig.tolist()
    )


def test_denoising_a_clean_frame_at_tiny_sigma_returns_it():
    torch.manual_seed(0)
    cfg = DenoiserConfig(channels=(8, 8), depths=(1, 1), attn_depths=(0, 0), cond_channels=8, sigma_offset_noise=0.0)
    d = Denoiser(cfg, 3)
    torch.nn.init.normal_(d.inner_model.conv_out.weight, std=0.05)  # a non-trivial network
    frame = torch.randint(0, 256, (2, 3, 16, 16)).float() / 127.5 - 1  # on the uint8 grid
    past = torch.rand(2, 4, 3, 16, 16) * 2 - 1
    act = torch.randint(0, 3, (2, 4))
    out = d.denoise(frame, torch.full((2,), 2e-3), past, act)
    assert torch.equal(out, frame)
    # and quantisation itself is exact on the grid and snaps off-grid values to it
    assert torch.equal(quantize(frame), frame)
    assert torch.allclose(quantize(frame + 0.002), frame)


def test_denoiser_starts_as_skip_connection_and_loss_trains():
    """The output conv starts with zero weights and its default bias (reference inner_model.py),
    so D(x) = c_skip x + c_out b at initialisation, whatever the input."""
    cfg = DenoiserConfig(channels=(8, 8), depths=(1, 1), attn_depths=(0, 0), cond_channels=8)
    d = Denoiser(cfg, 3)
    x = torch.randn(2, 3, 8, 8)
    sigma = torch.tensor([1.0, 0.1])
    cs = d.conditioners(sigma)
    out = d.denoise(x, sigma, torch.zeros(2, 4, 3, 8, 8), torch.zeros(2, 4, dtype=torch.long))
    bias = d.inner_model.conv_out.bias[None, :, None, None]
    assert bias.abs().sum() > 0
    assert torch.allclose(out, quantize(cs.c_skip * x + cs.c_out * bias))
    obs = torch.rand(4, 6, 3, 8, 8) * 2 - 1
    mask = torch.ones(4, 6, dtype=torch.bool)
    loss = d.compute_loss(obs, torch.zeros(4, 6, dtype=torch.long), mask, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and d.inner_model.conv_out.weight.grad.abs().sum() > 0


# -- data ----------------------------------------------------------------------------------------
def test_recency_weighted_sampler_proportions():
    rng = np.random.default_rng(0)
    lens = np.array([10, 50, 10, 50, 10, 50, 5, 100])  # 8 episodes -> quarters of 2
    ep = recency_weighted_episodes(lens, 200_000, rng)
    frac = np.bincount(ep, minlength=8) / len(ep)
    # 70% on the newest quarter, 10% on each other, episodes uniform within a quarter
    assert frac == pytest.approx([0.05] * 6 + [0.35, 0.35], abs=0.005)
    # 10 episodes: groups of 2, 2, 2 and 4 (the newest takes the remainder, as the reference)
    ep = recency_weighted_episodes(np.full(10, 7), 200_000, rng)
    assert np.bincount(ep, minlength=10) / len(ep) == pytest.approx([0.05] * 6 + [0.175] * 4, abs=0.005)
    # fewer episodes than groups: proportional to length (uniform over steps)
    ep = recency_weighted_episodes(lens[:2], 60_000, rng)
    assert (ep == 0).mean() == pytest.approx(10 / 60, abs=0.01)


def test_windows_are_placed_around_a_uniform_step_as_the_reference():
    """One episode of 100 steps, windows of 5 around a uniform step t (reference BatchSampler):
    denoiser/imagination windows end at min(99, t + U[0, 5)), reward/termination windows start at
    t - U[0, 5). Both start before the episode in 2% of draws; only the latter run past its end
    (2%), and the former end exactly at its last step 3% of the time."""
    ds = DiamondDataset(128, (8, 8, 3), 8)
    for t in range(100):
        ds.add(np.zeros((8, 8, 3), np.uint8), 0, 0.0, False, False, t == 0)
    rng, n = np.random.default_rng(0), 400_000
    first, owner = ds.sample_windows(n, 5, rng, (0.1, 0.1, 0.1, 0.7))
    last = first + 4
    assert owner.min() >= 0 and owner.max() <= 99
    assert last.max() == 99 and (last == 99).mean() == pytest.approx(0.03, abs=0.002)
    assert (first < 0).mean() == pytest.approx(0.02, abs=0.002)
    first, _ = ds.sample_windows(n, 5, rng, (0.1, 0.1, 0.1, 0.7), pad_end=True)
    assert (first < 0).mean() == pytest.approx(0.02, abs=0.002)
    assert (first + 4 > 99).mean() == pytest.approx(0.02, abs=0.002) and first.max() == 99


def test_segments_pad_mask_and_final_observation():
    ds = DiamondDataset(16, (8, 8, 3), 8)
    frame = lambda v: np.full((8, 8, 3), v, np.uint8)  # noqa: E731
    for t in range(3):  # episode 0: steps 0..2, ends with a final frame 200
        ds.add(frame(10 * t), t, 0.0, t == 2, False, t == 0, frame(200) if t == 2 else None)
    for t in range(4):  # episode 1, still running
        ds.add(frame(100 + t), 1, 1.0, False, False, t == 0)
    rng = np.random.default_rng(0)
    seg = ds.segments(np.array([-2, 1, 5]), 4, np.array([0, 1, 5]), rng)
    m = seg["mask"].numpy()
    assert m.tolist() == [[False, False, True, True], [True, True, True, False], [True, True, False, False]]
    px = ((seg["obs"][:, :, 0, 0, 0] + 1) * 127.5).numpy().round(3)
    assert px[0].tolist() == [127.5, 127.5, 0, 10]
    assert seg["obs"][0, :2].abs().sum() == 0  # left padding is zero (mid-grey)
    assert px[1].tolist()[:3] == [10, 20, 200]  # the final observation follows the last step
    assert seg["end"][1].tolist() == [False, True, False, False]
    assert seg["act"][0].tolist()[:2] == [0, 0]
    assert not m[2, 2:].any()  # the running episode has no next frame yet


def test_lambda_returns_in_actor_critic_loss():
    cfg = ActorCriticConfig()
    T, B, A = 3, 1, 2
    logits = torch.zeros(T, B, A, requires_grad=True)
    values = torch.tensor([[0.5], [0.2], [0.4], [1.0]], requires_grad=True)
    rew = torch.tensor([[0.0], [3.0], [-2.0]])  # sign-clipped to 0, 1, -1
    end = torch.tensor([[False], [False], [True]])
    act = torch.zeros(T, B, dtype=torch.long)
    g, lam = cfg.gamma, cfg.lambda_
    G2 = -1.0  # terminal: no bootstrap
    G1 = 1.0 + g * ((1 - lam) * 0.4 + lam * G2)
    G0 = 0.0 + g * ((1 - lam) * 0.2 + lam * G1)
    loss, m = actor_critic_loss(logits, values, act, rew, end, cfg)
    assert m["actor_critic/return"] == pytest.approx((G0 + G1 + G2) / 3, rel=1e-5)
    v_loss = ((0.5 - G0) ** 2 + (0.2 - G1) ** 2 + (0.4 - G2) ** 2) / 3
    assert m["actor_critic/loss_value"] == pytest.approx(v_loss, rel=1e-5)
    assert m["actor_critic/entropy"] == pytest.approx(math.log(2), rel=1e-5)
    loss.backward()
    assert logits.grad is not None and values.grad is not None


# -- models and agent ----------------------------------------------------------------------------
def test_attention_adds_its_output_to_the_normalised_input():
    """Reference models/blocks.py: x = norm(x); return x + out(attention(x)). The output projection
    starts at zero, so a fresh block is its GroupNorm; a trained one adds attention to it."""
    from wmbench_diamond.unet import SelfAttention2d

    attn = SelfAttention2d(16)
    x = torch.randn(2, 16, 4, 4) * 3 + 1
    torch.testing.assert_close(attn(x), attn.norm(x))
    torch.nn.init.normal_(attn.out.weight)
    assert not torch.allclose(attn(x), attn.norm(x))


def test_lstm_init_and_warmup_follow_the_reference():
    """utils.init_lstm: one orthogonal init of the whole (4h, h) recurrent matrix, forget-gate bias
    1; utils.get_lr_sched: update s runs at lr * s / warmup (0 for the first)."""
    from wmbench_diamond.trainer import make_optimizer, warmup_scheduler

    cfg, _ = make_config("atari100k")
    lstm = DiamondModels(cfg, num_actions=4).rew_end.lstm
    w = lstm.weight_hh_l0.detach()
    torch.testing.assert_close(w.T @ w, torch.eye(w.shape[1]), atol=1e-4, rtol=0)
    h = w.shape[1]
    assert torch.all(lstm.bias_ih_l0[h : 2 * h] == 1) and lstm.bias_ih_l0.abs().sum() == h
    opt = make_optimizer(torch.nn.Linear(2, 2), 1e-4, 0.0, 1e-8)
    sched = warmup_scheduler(opt, 100)
    lrs = []
    for _ in range(102):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == 0 and lrs[50] == pytest.approx(0.5e-4) and lrs[100] == lrs[101] == pytest.approx(1e-4)


def test_paper_parameter_counts():
    cfg, _ = make_config("atari100k")
    models = DiamondModels(cfg, num_actions=4)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(models.denoiser) == 4_405_955
    assert count(models.rew_end) == 5_900_864
    assert count(models.actor_critic) == 3_229_637


def test_actor_critic_encoders():
    """The paper's CNN and the tiny-only conv_relu encoder (a black frame gives features equal
    to ReLU(bias) at every pixel); an unknown encoder name is an error."""
    from wmbench_diamond.actor_critic import ActorCritic

    cfg, _ = make_config("tiny")
    ac = ActorCritic(cfg.actor_critic, 3, cfg.image_size)
    assert cfg.actor_critic.encoder == "conv_relu"
    feats = ac.encoder(-torch.ones(2, 3, 8, 8))
    bias = torch.relu(ac.encoder.conv.bias)[None, :, None, None].expand_as(feats)
    assert torch.allclose(feats, bias)
    logits, value, _ = ac(-torch.ones(2, 3, 8, 8), ac.initial_state(2))
    assert logits.shape == (2, 3) and torch.all(logits == 0) and torch.all(value == 0)  # zero-init heads
    cfg, _ = make_config("tiny", {"actor_critic.encoder": "mlp"})
    with pytest.raises(ValueError, match="conv_relu"):
        ActorCritic(cfg.actor_critic, 3, cfg.image_size)


def test_config_errors_and_freeway_temperature():
    with pytest.raises(ConfigError, match="unknown preset"):
        DiamondAgent(env=make_env_spec("catch"), preset="huge")
    with pytest.raises(ConfigError, match="unknown config key"):
        DiamondAgent(env=make_env_spec("catch"), preset="tiny", **{"denoiser.chanels": (8,)})
    with pytest.raises(ConfigError, match="updates_per_epoch_actor_critic"):
        make_config("atari100k", {"training.updates_per_epoch_actor_critic": "many"})
    cfg, _ = make_config("atari100k", game="Freeway")
    assert cfg.actor_critic.temperature == 0.01
    cfg, _ = make_config("atari100k", {"actor_critic.temperature": 0.5}, game="Freeway")
    assert cfg.actor_critic.temperature == 0.5  # --set wins


def test_train_checkpoint_resume_and_determinism(tmp_path):
    a = catch_agent(tmp_path / "a")
    summary = a.train(80)
    assert summary["env_steps"] == 80 and a.env_steps_trained == 80
    # 40 initial steps; epoch 1 collects 20 then trains the first-epoch counts, epoch 2 collects
    # the last 20, epoch 3 is the final one (reference schedule)
    assert summary["updates"] == {"denoiser": 2 + 2, "rew_end": 2 + 2, "actor_critic": 1 + 2}
    assert a.trainer.epoch == 3
    assert (tmp_path / "a" / "losses.csv").read_text().startswith("env_step,wall_time,epoch")
    assert any(p.name.startswith("imagined_rollout") for p in (tmp_path / "a").iterdir())
    assert a.describe()["hyperparameters"]["image_size"] == 8

    b = catch_agent(tmp_path / "b")
    b.train(80)
    for (k, p), q in zip(a.models.state_dict().items(), b.models.state_dict().values()):
        assert torch.equal(p, q), k  # same seed -> same run

    ckpt = tmp_path / "ckpt.pt"
    a.save_checkpoint(ckpt)
    c = catch_agent()
    c.load_checkpoint(ckpt)
    assert c.env_steps_trained == 80 and c.trainer.epoch == a.trainer.epoch
    assert len(c.trainer.dataset) == 80 and c.trainer.dataset.final_obs.keys() == a.trainer.dataset.final_obs.keys()
    assert c.trainer.optimizers["denoiser"].state_dict()["state"].keys()
    c.train(100)  # resumes: one more collecting epoch (the final epochs were already done)
    assert c.env_steps_trained == 100 and c.trainer.num_updates["denoiser"] == 4 + 1

    with pytest.raises(CheckpointError, match="different config"):
        catch_agent(**{"actor_critic.gamma": 0.9}).load_checkpoint(ckpt)

    # a checkpoint written on a GPU (its generators' states are CUDA's 16 bytes) loads on a CPU
    data = torch.load(ckpt, weights_only=True)
    data["act_generator"] = data["trainer"]["torch_generator"] = torch.zeros(16, dtype=torch.uint8)
    torch.save(data, ckpt)
    d = catch_agent()
    with pytest.warns(UserWarning, match="another device"):
        d.load_checkpoint(ckpt)
    assert d.env_steps_trained == 80


def test_act_is_deterministic_per_seed_with_batch_first_state():
    obs = np.zeros((5, 64, 64, 3), np.uint8)
    acts = []
    for _ in range(2):
        a = catch_agent(seed=3)
        state = a.initial_state(5)
        assert state[0].shape == (5, a.cfg.actor_critic.lstm_dim)
        seq = []
        for _ in range(4):
            act, state = a.act(obs, state)
            seq.append(act)
        acts.append(np.stack(seq))
    assert np.array_equal(acts[0], acts[1]) and acts[0].dtype.kind == "i"
    res = catch_agent().evaluate(4, num_envs=2)
    assert len(res["episode_returns"]) == 4


def test_non_finite_loss_stops_training(monkeypatch):
    a = catch_agent()
    monkeypatch.setattr(a.trainer, "update_rew_end", lambda: {"rew_end/loss": float("nan")})
    with pytest.raises(NonFiniteLossError, match="rew_end/loss"):
        a.train(60)


def test_world_model_env_batched_reset_step():
    a = catch_agent()
    a.trainer.collect(30)
    env = a.trainer.wm_env
    obs, info = env.reset()
    assert obs.shape == (4, 3, 8, 8) and info["burnin_obs"].shape == (4, 3, 3, 8, 8)
    obs2, rew, end, trunc, info = env.step(torch.zeros(4, dtype=torch.long))
    assert obs2.shape == obs.shape and rew.shape == end.shape == trunc.shape == (4,)
    assert set(rew.tolist()) <= {-1.0, 0.0, 1.0}
    assert info["final_observation"].shape == obs.shape


def test_initial_collection_minority_reward_rule():
    # catch: one non-zero reward per 7-step episode, so 3 of them need exactly 21 steps
    over = {"training.threshold_rew": 3, "training.initial_collect_min": 7, "training.collect_chunk": 7}
    a = catch_agent(**over, **{"training.initial_collect_max": 100})
    a.trainer.initial_collection(1000)
    assert len(a.trainer.dataset) == 21
    assert a.trainer.dataset.reward_class_counts()[[0, 2]].sum() == 3
    a = catch_agent(**over, **{"training.initial_collect_max": 10})
    a.trainer.initial_collection(1000)
    assert len(a.trainer.dataset) == 10  # capped


def test_channels_last_layout_changes_no_values():
    outs = []
    for cl in (False, True):
        torch.manual_seed(0)
        cfg, _ = make_config("tiny", {"training.channels_last": cl, "denoiser.attn_depths": (0, 1)})
        m = DiamondModels(cfg, 3)
        g = torch.Generator().manual_seed(1)
        # non-zero output layers (drawn in logical order: in-place init would follow memory order)
        zero_init = [m.denoiser.inner_model.conv_out.weight] + [
            blk.attn.out.weight for blk in m.denoiser.inner_model.unet.mid_blocks.blocks
        ]
        with torch.no_grad():
            for w in zero_init:
                w.copy_(0.1 * torch.randn(w.shape, generator=g))
        x = torch.randn(2, 3, 8, 8, generator=g)
        past = torch.randn(2, 4, 3, 8, 8, generator=g)
        act = torch.randint(0, 3, (2, 4), generator=g)
        cs = m.denoiser.conditioners(torch.tensor([0.5, 2.0]))
        with torch.no_grad():  # the NHWC layout applies to inference passes only
            den = m.denoiser.model_output(x, past, act, cs)  # before quantisation
            lr, le, _ = m.rew_end(past[:, :2], act[:, :2], past[:, 1:3])
            logits, value, _ = m.actor_critic(x, m.actor_critic.initial_state(2))
        outs.append((den, lr, le, logits, value))
    for a, b in zip(*outs):
        assert torch.allclose(a, b, atol=1e-4)


def test_channels_last_layout_is_for_inference_passes_only():
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert to_layout(x, True).is_contiguous(memory_format=torch.channels_last)
        assert to_layout(x, False).is_contiguous()
    assert to_layout(x, True).is_contiguous()  # training passes stay NCHW


def test_adaptive_group_norm_is_the_same_in_both_layouts_with_gradients():
    """AdaGN: NCHW input goes through one group_norm with per-sample affine, NHWC through
    group_norm then scale/shift: both are GroupNorm(x) * (1 + scale) + shift, gradients included."""
    torch.manual_seed(0)
    norm = AdaGroupNorm(64, 16)
    x = torch.randn(3, 64, 5, 6)
    cond = torch.randn(3, 16)

    def formula(x: torch.Tensor) -> torch.Tensor:
        scale, shift = norm.linear(cond)[:, :, None, None].chunk(2, dim=1)
        return torch.nn.functional.group_norm(x, 2, eps=1e-5) * (1 + scale) + shift

    g = torch.randn(3, 64, 5, 6)
    for layout in (torch.contiguous_format, torch.channels_last):
        xs = [x.clone().contiguous(memory_format=layout).requires_grad_() for _ in range(2)]
        got, want = norm(xs[0], cond), formula(xs[1])
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        params = list(norm.linear.parameters())
        for a, b in zip(torch.autograd.grad(got, [xs[0], *params], g), torch.autograd.grad(want, [xs[1], *params], g)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_components_can_have_their_own_updates_per_epoch():
    """The reference gives each component its own steps_per_epoch; ours defaults all three to
    ``updates_per_epoch`` and lets the reward/termination model's and the actor-critic's differ."""
    calls: list[str] = []
    for over, want in (
        ({}, ["d", "d", "r", "r", "a", "a"]),
        ({"training.updates_per_epoch_actor_critic": 3}, ["d", "d", "r", "r", "a", "a", "a"]),
        ({"training.updates_per_epoch_rew_end": 4}, ["d", "d", "r", "r", "r", "r", "a", "a"]),
    ):
        over = {"training.updates_per_epoch_actor_critic": None, "training.updates_per_epoch_rew_end": None, **over}
        a = catch_agent(**{**over, "training.updates_per_epoch": 2})
        tr = a.trainer
        calls.clear()
        tr.update_denoiser = lambda: calls.append("d") or {}
        tr.update_rew_end = lambda: calls.append("r") or {}
        tr.update_actor_critic = lambda: calls.append("a") or {}
        tr.train_components(first=False, log=lambda m: None)
        assert calls == want
