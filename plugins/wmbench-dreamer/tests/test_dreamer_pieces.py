"""The Dreamer components against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from wmbench_dreamer.actor_critic import ReturnNormalizer
from wmbench_dreamer.configs import DreamerConfig, DreamerV1Config, DreamerV2Config
from wmbench_dreamer.distributions import (
    categorical_kl,
    gaussian_kl,
    sample_onehot,
    straight_through,
    unimix_logits,
)
from wmbench_dreamer.heads import ScalarHead
from wmbench_dreamer.networks import ConvDecoder, ConvEncoder
from wmbench_dreamer.rssm import RSSM
from wmbench_dreamer.world_model import kl_loss

from wmbench_core.learning.returns import lambda_returns
from wmbench_core.learning.twohot import TwoHot, symexp, symlog


def test_symlog_symexp_hand_values():
    x = torch.tensor([-(math.e - 1), 0.0, math.e - 1, math.e**2 - 1])
    assert torch.allclose(symlog(x), torch.tensor([-1.0, 0.0, 1.0, 2.0]), atol=1e-6)
    assert torch.allclose(symexp(torch.tensor([-1.0, 0.0, 1.0, 2.0])), x, atol=1e-5)


def test_two_hot_hand_values_and_head_starts_at_zero():
    th = TwoHot(num_bins=3, low=-1.0, high=1.0, transform=None)
    # 0.25 lies between bins 0 and 1: weight 0.75 on 0, 0.25 on 1
    assert torch.allclose(th.encode(torch.tensor([0.25])), torch.tensor([[0.0, 0.75, 0.25]]))
    # the 255-bin symlog version: y = e - 1 is symlog 1.0; decode(log(two-hot)) gives it back
    th255 = TwoHot()
    y = torch.tensor([math.e - 1, -3.0, 0.0])
    assert torch.allclose(th255.decode(th255.encode(y).clamp_min(1e-12).log()), y, atol=1e-4)
    head = ScalarHead(8, 1, 16, "silu", True, "twohot")  # zero-initialised output layer
    assert torch.allclose(head.mean(head(torch.randn(5, 8))), torch.zeros(5), atol=1e-6)


def test_lambda_returns_hand_values():
    # T = 2, lambda 0.5: G1 = r1 + d1 V2 ; G0 = r0 + d0 ((1-l) V1 + l G1)
    r = torch.tensor([1.0, 2.0])
    v = torch.tensor([0.0, 10.0, 20.0])
    d = torch.tensor([0.9, 0.8])
    g1 = 2.0 + 0.8 * 20.0
    g0 = 1.0 + 0.9 * (0.5 * 10.0 + 0.5 * g1)
    assert torch.allclose(lambda_returns(r, v, d, 0.5), torch.tensor([g0, g1]))


def _kl_setup(cfg):
    rssm = RSSM(cfg, embed_dim=4, num_actions=2)
    post_logits = torch.tensor([[[2.0, 0.0]]], requires_grad=True)  # (B=1, S=1, K=2)
    prior_logits = torch.tensor([[[0.0, 1.0]]], requires_grad=True)
    post = torch.log_softmax(post_logits, -1)
    prior = torch.log_softmax(prior_logits, -1)
    p, q = post.exp()[0, 0], prior.exp()[0, 0]
    kl = float((p * (p.log() - q.log())).sum().detach())
    return rssm, post_logits, prior_logits, post, prior, kl


def test_kl_balancing_v3_dyn_rep_scales_and_free_bits():
    cfg = DreamerConfig(stoch=1, classes=2, deter=4, hidden=4, free_nats=0.0)
    rssm, post_logits, prior_logits, post, prior, kl = _kl_setup(cfg)
    loss, _ = kl_loss(rssm, post, prior, cfg)
    assert loss.item() == pytest.approx((0.5 + 0.1) * kl, rel=1e-5)
    loss.backward()
    # the prior receives only the dyn term (0.5), the posterior only the rep term (0.1)
    g_prior = torch.autograd.grad(categorical_kl(post.detach(), torch.log_softmax(
        prior_logits, -1)).sum(), prior_logits)[0]  # fmt: skip
    g_post = torch.autograd.grad(categorical_kl(torch.log_softmax(post_logits, -1),
                                 prior.detach()).sum(), post_logits)[0]  # fmt: skip
    assert torch.allclose(prior_logits.grad, 0.5 * g_prior, atol=1e-6)
    assert torch.allclose(post_logits.grad, 0.1 * g_post, atol=1e-6)
    # free bits: a KL below 1 nat is clipped to 1 and gives no gradient
    cfg1 = DreamerConfig(stoch=1, classes=2, deter=4, hidden=4, free_nats=1.0)
    rssm, post_logits, prior_logits, post, prior, kl = _kl_setup(cfg1)
    assert kl < 1.0
    loss, _ = kl_loss(rssm, post, prior, cfg1)
    assert loss.item() == pytest.approx(0.6)
    loss.backward()
    assert float(post_logits.grad.abs().sum()) == 0.0


def test_kl_balancing_v2_alpha():
    cfg = DreamerV2Config(stoch=1, classes=2, deter=4, hidden=4, free_nats=0.0, kl_scale=0.1)
    rssm, post_logits, prior_logits, post, prior, kl = _kl_setup(cfg)
    loss, _ = kl_loss(rssm, post, prior, cfg)
    assert loss.item() == pytest.approx(0.1 * kl, rel=1e-5)  # 0.8 KL + 0.2 KL, scaled 0.1
    loss.backward()
    g_prior = torch.autograd.grad(categorical_kl(post.detach(), torch.log_softmax(
        prior_logits, -1)).sum(), prior_logits)[0]  # fmt: skip
    assert torch.allclose(prior_logits.grad, 0.1 * 0.8 * g_prior, atol=1e-6)


def test_v1_gaussian_kl_and_free_nats():
    # KL(N(0,1) || N(1,2)) = log 2 + (1 + 1) / 8 - 1/2
    kl = gaussian_kl(torch.zeros(1), torch.ones(1), torch.ones(1), 2 * torch.ones(1))
    assert kl.item() == pytest.approx(math.log(2) + 0.25 - 0.5, rel=1e-6)
    cfg = DreamerV1Config(stoch=1, deter=4, hidden=4)
    rssm = RSSM(cfg, 4, 2)
    post = torch.tensor([[0.0, 1.0]])  # mean 0, std 1
    prior = torch.tensor([[1.0, 2.0]])
    loss, m = kl_loss(rssm, post, prior, cfg)
    assert loss.item() == pytest.approx(3.0)  # below the 3 free nats
    assert m["kl"].item() == pytest.approx(kl.item(), rel=1e-6)


def test_straight_through_value_is_onehot_gradient_is_probs():
    logits = torch.tensor([[0.3, -1.0, 2.0]], requires_grad=True)
    logp = torch.log_softmax(logits, -1)
    gen = torch.Generator().manual_seed(0)
    sample = straight_through(sample_onehot(logp, gen), logp)
    assert sorted(sample.detach().flatten().tolist()) == [0.0, 0.0, 1.0]
    w = torch.tensor([[1.0, 2.0, 3.0]])
    (g_st,) = torch.autograd.grad((sample * w).sum(), logits)
    (g_p,) = torch.autograd.grad((torch.softmax(logits, -1) * w).sum(), logits)
    assert torch.allclose(g_st, g_p)


def test_onehot_samples_follow_the_probabilities():
    """Inverse-CDF sampling: class frequencies match the probabilities (200k draws: each
    frequency within 5 standard errors), a zero-probability class is never drawn, and the same
    generator seed gives the same samples."""
    probs = torch.tensor([0.5, 0.0, 0.2, 0.25, 0.05])
    logp = probs.log().expand(200_000, 5)
    counts = sample_onehot(logp, torch.Generator().manual_seed(0)).sum(0)
    freq = counts / 200_000
    se = (probs * (1 - probs) / 200_000).sqrt()
    assert counts[1] == 0
    assert ((freq - probs).abs() <= 5 * se + 1e-9).all(), freq
    a = sample_onehot(logp[:64], torch.Generator().manual_seed(3))
    b = sample_onehot(logp[:64], torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(a.sum(-1), torch.ones(64))


def test_unimix_floor():
    logp = unimix_logits(torch.tensor([[100.0, 0.0, 0.0, 0.0]]), 0.01)
    p = logp.exp()
    assert torch.allclose(p.sum(-1), torch.ones(1))
    assert p.min().item() == pytest.approx(0.01 / 4, rel=1e-4)


def test_percentile_return_normalisation():
    norm = ReturnNormalizer(decay=0.99, low=5.0, high=95.0, max_=1.0)
    returns = torch.arange(101, dtype=torch.float32)  # P5 = 5, P95 = 95
    scale = norm.update(returns)
    assert norm.low.item() == pytest.approx(0.05)
    assert norm.high.item() == pytest.approx(0.95)
    assert scale.item() == pytest.approx(1.0)  # max(1, 0.9)
    for _ in range(2000):
        scale = norm.update(returns)
    assert scale.item() == pytest.approx(90.0, rel=1e-3)


@pytest.mark.parametrize("style", ["v1", "v3"])
@pytest.mark.parametrize("size", [64, 32, 16])
def test_cnn_sizes_end_on_the_same_grid(style, size):
    """Toy presets train on smaller images with the last encoder / first decoder stages only."""
    enc = ConvEncoder(3, 4, "silu", True, style, size)
    dec = ConvDecoder(10, 3, 4, "silu", True, style, size)
    assert enc(torch.zeros(2, 3, size, size)).shape == (2, enc.out_dim)
    assert enc.out_dim == (4 * 8 * 16 if style == "v3" else 4 * 8 * 4)
    assert dec(torch.zeros(2, 10)).shape == (2, 3, size, size)
    with pytest.raises(ValueError, match="image_size"):
        ConvEncoder(3, 4, "silu", True, style, 48)


@pytest.mark.parametrize("bias", [False, True])
def test_v1_decoder_first_layer_as_a_product_equals_the_transposed_conv(bias):
    """V1/V2's decoder starts from a 1x1 map; its first transposed conv runs as one matrix product
    (much faster on CPU) and must give the convolution's values and gradients."""
    from wmbench_dreamer.networks import _transposed_conv_of_1x1

    torch.manual_seed(0)
    conv = torch.nn.ConvTranspose2d(12, 5, 6, stride=2, bias=bias)
    x = torch.randn(7, 12, requires_grad=True)
    fast = _transposed_conv_of_1x1(conv, x)
    ref = conv(x[:, :, None, None])
    assert fast.shape == ref.shape == (7, 5, 6, 6)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-6)
    g = torch.randn_like(ref)
    grads_fast = torch.autograd.grad(fast, [x, *conv.parameters()], g)
    grads_ref = torch.autograd.grad(ref, [x, *conv.parameters()], g)
    for a, b in zip(grads_fast, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
def test_onehot_input_linear_equals_the_dense_layer(bias):
    """A layer on [one-hot groups, dense] computed by gathering weight columns gives the dense
    product's values and weight gradients; indexing and stacking act on the batch dims."""
    from wmbench_dreamer.onehot_input import OneHotInput

    torch.manual_seed(0)
    layer = torch.nn.Linear(3 * 4 + 5, 6, bias=bias)
    classes = torch.randint(0, 4, (2, 7, 3))
    x = OneHotInput.from_groups(classes, 4, dense=torch.randn(2, 7, 5))
    dense = x.to_dense()
    assert dense.shape == (2, 7, 17)
    assert torch.equal(dense[..., :12].reshape(2, 7, 3, 4).argmax(-1), classes)
    assert torch.equal(dense[..., :12].sum(-1), torch.full((2, 7), 3.0))
    fast, ref = x.linear(layer), layer(dense)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-6)
    g = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(fast, list(layer.parameters()), g),
                    torch.autograd.grad(ref, list(layer.parameters()), g)):  # fmt: skip
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    stacked = OneHotInput.stack([x[0], x[1]])
    assert torch.equal(stacked.to_dense(), dense)
    assert torch.equal(x[1:, 2].to_dense(), dense[1:, 2])


def test_imagination_on_class_indices_equals_the_dense_rollout():
    """V2/V3 imagine with z kept as class indices; the rollout, its losses and the actor and
    critic gradients must equal those of the dense rollout (one-hot features, same random
    numbers) to float rounding."""
    from wmbench_dreamer.actor_critic import ActorCritic
    from wmbench_dreamer.onehot_input import OneHotInput
    from wmbench_dreamer.world_model import WorldModel

    torch.manual_seed(0)
    cfg = DreamerConfig(deter=32, hidden=32, stoch=4, classes=5, cnn_depth=4, image_size=16,
                        head_units=16, horizon=4)  # fmt: skip
    wm, ac = WorldModel(cfg, num_actions=3), ActorCritic(cfg, 4 * 5 + 32, num_actions=3)
    with torch.no_grad():  # the two-hot heads start at zero: make every head count
        for p in [*wm.parameters(), *ac.parameters()]:
            p.add_(0.1 * torch.randn_like(p))
    stats = wm.rssm.dist_stats(torch.randn(6, wm.rssm.stats_dim))
    start = {"deter": torch.randn(6, 32), "stoch": wm.rssm.sample(stats).detach()}

    def dense_rollout(gen):
        state, feats, actions, logps = dict(start), [wm.rssm.features(start)], [], []
        for _ in range(cfg.horizon):
            logp = ac.actor(feats[-1])
            action = ac.actor.sample(logp, gen)
            with torch.no_grad():
                state = wm.rssm.img_step(state, action, gen)
            feats.append(wm.rssm.features(state))
            actions.append(action)
            logps.append(logp)
        return torch.stack(feats), torch.stack(actions), torch.stack(logps)

    results = []
    for rollout in (lambda g: ac.imagine(wm, start, g), dense_rollout):
        feats, actions, logps = rollout(torch.Generator().manual_seed(3))
        actor_loss, critic_loss, _ = ac._losses(wm, feats, actions, logps, torch.ones(6))
        params = [*ac.actor.parameters(), *ac.critic.parameters()]
        grads = torch.autograd.grad(actor_loss + critic_loss, params)
        dense = feats.to_dense() if isinstance(feats, OneHotInput) else feats
        results.append((dense, actions, actor_loss, critic_loss, torch.cat([g.flatten() for g in grads])))
    assert isinstance(ac.imagine(wm, start)[0], OneHotInput)
    (f1, a1, *rest1), (f2, a2, *rest2) = results
    torch.testing.assert_close(f1, f2, rtol=1e-5, atol=1e-6)
    assert torch.equal(a1, a2)  # same samples
    for x, y in zip(rest1, rest2):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("version", [3, 1])
def test_sequence_weight_grads_equal_per_step_autograd(version, monkeypatch):
    """The RSSM loop's layers get their weight gradient once per sequence (G^T X); every
    parameter's gradient and the loss must equal plain per-step autograd to float rounding.
    Covers layers with and without bias (V1, V3) and a reset in mid-sequence."""
    import contextlib

    import wmbench_dreamer.rssm as rssm_module
    from wmbench_dreamer.world_model import WorldModel

    cfg = DreamerConfig(deter=32, hidden=32, stoch=4, classes=5, cnn_depth=4, image_size=16)
    if version == 1:
        cfg = DreamerV1Config(deter=32, hidden=32, stoch=4, cnn_depth=4, image_size=16)
    torch.manual_seed(0)
    wm = WorldModel(cfg, num_actions=3)
    images = torch.rand(3, 5, wm.channels, 16, 16) - 0.5
    actions = torch.nn.functional.one_hot(torch.randint(0, 3, (3, 5)), 3).float()
    is_first = torch.zeros(3, 5, dtype=torch.bool)
    is_first[:, 0] = is_first[1, 2] = True
    reward, terminal = torch.randn(3, 5), torch.zeros(3, 5)

    def loss_and_grads():
        loss, _, _ = wm.loss(images, actions, reward, terminal, is_first, torch.Generator().manual_seed(1))
        grads = torch.autograd.grad(loss, list(wm.parameters()), allow_unused=True)
        return loss, {n: g for (n, _), g in zip(wm.named_parameters(), grads)}

    deferred_loss, deferred = loss_and_grads()
    monkeypatch.setattr(rssm_module, "sequence_weight_grads", lambda module: contextlib.nullcontext())
    plain_loss, plain = loss_and_grads()
    torch.testing.assert_close(deferred_loss, plain_loss)
    recurrent = [n for n in plain if n.startswith(("rssm.img_in", "rssm.gru", "rssm.obs_deter", "rssm.post"))]
    assert len(recurrent) >= 4
    for name in plain:
        assert (deferred[name] is None) == (plain[name] is None), name
        if plain[name] is not None:
            torch.testing.assert_close(deferred[name], plain[name], rtol=1e-4, atol=1e-6, msg=name)


def test_v2_return_layout_follows_its_code():
    """V2's indexing (its agent.py): T_t = r_t + d_t ((1 - λ) v_{t+1} + λ T_{t+1}) from each
    state's own reward and discount (d_0 from the start's terminal flag), the action taken at
    state t scored by T_{t+1} - v_t (H - 1 actions), the critic regressing T_0..T_{H-1}, weights
    1, d_0, d_0 d_1, ...; written out step by step here."""
    from wmbench_dreamer.agent import DreamerV2Agent

    from wmbench_core.envs import EnvSpec

    agent = DreamerV2Agent(env=EnvSpec("catch"), preset="tiny", seed=0, horizon=4)
    wm, ac, cfg = agent.trainer.wm, agent.trainer.ac, agent.trainer.cfg
    assert cfg.return_layout == "state" and cfg.critic_target == "slow"
    torch.manual_seed(0)
    h, n, a = 4, 3, agent.num_actions
    feats = torch.randn(h + 1, n, wm.feat_dim)
    logps = torch.log_softmax(torch.randn(h, n, a), -1)
    actions = torch.nn.functional.one_hot(torch.randint(0, a, (h, n)), a).float()
    start_cont = torch.tensor([1.0, 0.0, 1.0])
    actor_loss, critic_loss, _ = ac._losses_state_layout(wm, feats, actions, logps, start_cont)
    with torch.no_grad():
        r = wm.reward.mean(wm.reward(feats))
        c = torch.sigmoid(wm.cont(feats))
        c[0] = start_cont
        d = cfg.gamma * c
        v = ac.slow_critic.mean(ac.slow_critic(feats))
        targets = [None] * h
        nxt = v[h]
        for t in reversed(range(h)):
            nxt = r[t] + d[t] * ((1 - cfg.lambda_) * v[t + 1] + cfg.lambda_ * nxt)
            targets[t] = nxt
        w = [torch.ones(n)]
        for t in range(h):
            w.append(w[-1] * d[t])
        actor_terms = [w[t] * ((logps[t] * actions[t]).sum(-1) * (targets[t + 1] - v[t])
                               + cfg.entropy * ac.actor.entropy(logps[t])) for t in range(h - 1)]  # fmt: skip
        critic_terms = [w[t] * ac.critic.nll(ac.critic(feats[t]), targets[t]) for t in range(h)]
    assert actor_loss.item() == pytest.approx(-torch.stack(actor_terms).mean().item(), rel=1e-5)
    assert critic_loss.item() == pytest.approx(torch.stack(critic_terms).mean().item(), rel=1e-5)
    critic_loss.backward()  # the critic learns; the targets and weights carry no gradient
    assert all(p.grad is not None for p in ac.critic.parameters())
    from wmbench_dreamer.agent import DreamerV1Agent

    from wmbench_core.agent import ConfigError

    with pytest.raises(ConfigError, match="return_layout"):  # V1 trains its actor through the dynamics
        DreamerV1Agent(env=EnvSpec("catch"), preset="tiny", return_layout="state")


def test_v1_return_layout_follows_its_code():
    """V1's indexing (its dreamer.py ``_train``): only the H states imagined after the start
    count; T_t = r_t + d_t ((1 - λ) v_{t+1} + λ T_{t+1}) for t = 1..H-1 from each state's own
    reward, discount and value, T_H = v_H; the actor maximises the mean of w_t T_t with weights
    1, d_1, d_1 d_2, ... and its gradient reaches the imagined states; the critic regresses
    v_1..v_{H-1}. Written out step by step here."""
    from wmbench_dreamer.agent import DreamerV1Agent

    from wmbench_core.agent import ConfigError
    from wmbench_core.envs import EnvSpec

    # its atari100k default; the tiny preset keeps V3's indexing (a named tiny-only deviation)
    agent = DreamerV1Agent(env=EnvSpec("catch"), preset="tiny", seed=0, horizon=4, return_layout="state_after_start")
    wm, ac, cfg = agent.trainer.wm, agent.trainer.ac, agent.trainer.cfg
    assert cfg.actor_grad == "dynamics"
    torch.manual_seed(0)
    h, n, a = 4, 3, agent.num_actions
    feats = torch.randn(h + 1, n, wm.feat_dim, requires_grad=True)
    logps = torch.log_softmax(torch.randn(h, n, a), -1)
    wm.requires_grad_(False)  # as ActorCritic.loss freezes them for the actor's gradient
    ac.critic.requires_grad_(False)
    actor_loss, critic_loss, _ = ac._losses_after_start(wm, feats, logps)
    with torch.no_grad():
        r = wm.reward.mean(wm.reward(feats))
        d = cfg.gamma * torch.sigmoid(wm.cont(feats))
        v = ac.critic.mean(ac.critic(feats))
        targets = {h: v[h]}
        for t in reversed(range(1, h)):
            targets[t] = r[t] + d[t] * ((1 - cfg.lambda_) * v[t + 1] + cfg.lambda_ * targets[t + 1])
        w = {1: torch.ones(n)}
        for t in range(2, h):
            w[t] = w[t - 1] * d[t - 1]
        actor_terms = [w[t] * (targets[t] + cfg.entropy * ac.actor.entropy(logps[t])) for t in range(1, h)]
        critic_terms = [w[t] * ac.critic.nll(ac.critic(feats[t]), targets[t]) for t in range(1, h)]
    assert actor_loss.item() == pytest.approx(-torch.stack(actor_terms).mean().item(), rel=1e-5)
    assert critic_loss.item() == pytest.approx(torch.stack(critic_terms).mean().item(), rel=1e-5)
    (grad,) = torch.autograd.grad(actor_loss, feats, retain_graph=True)
    assert grad[0].abs().sum() == 0 and grad[1:].abs().sum() > 0  # the start state is not scored
    critic_loss.backward()  # the critic learns from detached states
    assert all(p.grad is not None for p in ac.critic.parameters()) and feats.grad is None
    with pytest.raises(ConfigError, match="return_layout"):  # V1's layout needs dynamics backprop
        DreamerV1Agent(env=EnvSpec("catch"), preset="tiny", return_layout="state_after_start", actor_grad="reinforce")
