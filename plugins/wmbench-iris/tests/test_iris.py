"""Fast tests of the IRIS plugin: components, exactness of the KV cache, losses, agent contract."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from wmbench_iris.actor_critic import ActorCritic, actor_critic_loss
from wmbench_iris.configs import PRESETS, IrisConfig, WorldModelConfig
from wmbench_iris.imagination import ImaginedEnv
from wmbench_iris.perceptual_loss import PerceptualLoss, load_perceptual_loss
from wmbench_iris.tokenizer import Tokenizer
from wmbench_iris.world_model import WorldModel, configure_optimizer

from wmbench_core.agent import CheckpointError, ConfigError
from wmbench_core.envs import make_env_spec
from wmbench_core.learning.config import resolve_config
from wmbench_core.learning.monitor import NonFiniteLossError, TrainingMonitor
from wmbench_core.learning.returns import lambda_returns

torch.set_num_threads(1)


def tiny() -> IrisConfig:
    return resolve_config(IrisConfig, PRESETS, "tiny")


def make_agent(tmp_path=None, **overrides):
    from wmbench_iris.agent import IrisAgent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return IrisAgent(env=make_env_spec("catch"), preset="tiny", seed=3, work_dir=tmp_path,
                         **overrides)


# -- tokenizer ---------------------------------------------------------------------------------
def test_tokenizer_shapes_straight_through_and_codebook_usage():
    torch.manual_seed(0)
    tok = Tokenizer(tiny().tokenizer)
    x = torch.rand(6, 3, 64, 64)
    q = tok.quantize(x)
    assert q.tokens.shape == (6, 16) and q.tokens.dtype == torch.long
    assert int(q.tokens.max()) < tok.cfg.vocab_size
    # quantised vectors are exactly the codebook rows of the chosen tokens (nearest neighbour)
    flat = q.z.permute(0, 2, 3, 1).reshape(-1, q.z.shape[1])
    d = torch.cdist(flat, tok.codebook.weight)
    assert torch.equal(d.argmin(1), q.tokens.flatten())
    assert torch.allclose(tok.embed_tokens(q.tokens), q.z_q)
    # straight-through: the reconstruction loss reaches the encoder, the codebook term the codes
    loss, parts = tok.compute_loss(x)
    loss.backward()
    # tiny adds the l2 term and resets dead codes (in training mode)
    assert set(parts) == {"codebook", "commitment", "l1", "l2", "dead_codes"}
    assert tok.encoder.conv_in.weight.grad.abs().sum() > 0
    assert tok.codebook.weight.grad.abs().sum() > 0
    assert tok.decoder.conv_out.weight.grad.abs().sum() > 0
    # round trip: decode_tokens gives frames in [0, 1] at the tokenizer's resolution (tiny: 16)
    y = tok.decode_tokens(q.tokens)
    assert y.shape == (6, 3, 16, 16) and float(y.min()) >= 0 and float(y.max()) <= 1
    # 64x64 frames are area-resized first: same tokens as frames given at 16x16
    assert torch.equal(tok.tokenize(x), tok.tokenize(torch.nn.functional.avg_pool2d(x, 4)))


def test_patch_tokens_depend_on_their_own_patch_only():
    torch.manual_seed(0)
    tok = Tokenizer(tiny().tokenizer).eval()  # tiny: 16x16 frames, 4x4 patches, 1 token each
    x = torch.zeros(2, 3, 16, 16)
    x[1, 0, 4:6, 6:8] = 1.0  # a ball in patch (1, 1) of the second frame only
    t = tok.tokenize(x)
    changed = (t[0] != t[1]).nonzero().flatten().tolist()
    assert changed in ([], [5])  # row-major token 5 is patch (1, 1)
    assert len(t[0].unique()) == 1  # an empty frame is one code everywhere
    y = tok.decode_tokens(t)
    assert y.shape == (2, 3, 16, 16)
    assert torch.equal(y[0, :, :4], y[1, :, :4])  # decoding is patch-local too


def test_dead_codes_move_onto_badly_reconstructed_tokens():
    cfg = tiny().tokenizer
    assert IrisConfig().tokenizer.dead_code_reset_every == 0  # the paper never resets codes
    torch.manual_seed(0)
    tok = Tokenizer(cfg)
    x = torch.zeros(4, 3, 16, 16)
    x[:, 0, 4:6, 6:8] = 1.0  # a red ball in token (1, 1) of every frame
    for _ in range(cfg.dead_code_reset_every - 1):
        _, parts = tok.compute_loss(x)
        assert parts["dead_codes"] == 0
    q = tok.quantize(x)
    before = tok.codebook.weight.detach().clone()
    _, parts = tok.compute_loss(x)  # the reset step
    moved = (tok.codebook.weight != before).any(1)
    assert parts["dead_codes"] == int(moved.sum()) >= 1
    assert not moved[q.tokens.unique()].any()  # codes in use stay
    ball = q.z[:1, :, 1, 1]  # the missed ball's encoder output is now a code of its own
    assert torch.cdist(ball, tok.codebook.weight[moved]).min() < 1e-5
    tok.eval()
    assert "dead_codes" not in tok.compute_loss(x)[1]
    tok.train()  # past dead_code_reset_until the agent passes reset_dead_codes=False
    assert "dead_codes" not in tok.compute_loss(x, reset_dead_codes=False)[1]


def test_tokenizer_stops_after_its_stop_epoch():
    from wmbench_iris.trainer import plan_epoch

    cfg = IrisConfig()
    assert cfg.training.tokenizer_stop_after_epochs == 0  # the paper trains it in every epoch
    assert plan_epoch(cfg, 600, 0, 100_000, 0).tokenizer
    cfg.training.tokenizer_stop_after_epochs = 9
    trains = [plan_epoch(cfg, e, 0, 100_000, 0).tokenizer for e in range(1, 12)]
    start = cfg.training.tokenizer_start_after_epochs
    assert trains == [start < e <= 9 for e in range(1, 12)]


def test_tokenizer_learns_round_trip_and_uses_codebook():
    """A few Adam steps on catch-like frames: reconstruction error falls, several codes used."""
    torch.manual_seed(0)
    tok = Tokenizer(tiny().tokenizer)
    frames = torch.zeros(8, 3, 64, 64)
    for i in range(8):  # a red square and a white paddle at varying places
        r, c = (i % 7) * 8, (i * 3 % 8) * 8
        frames[i, 0, r:r + 8, c:c + 8] = 1.0
        frames[i, :, 56:, (i % 8) * 8:(i % 8) * 8 + 8] = 1.0
    opt = torch.optim.Adam(tok.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss, parts = tok.compute_loss(frames)
        first = parts["l1"] if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert parts["l1"] < 0.6 * first
    assert len(torch.unique(tok.tokenize(frames))) >= 3


def test_paper_parameter_counts():
    cfg = IrisConfig()
    tok = Tokenizer(cfg.tokenizer)
    wm = WorldModel(cfg.world_model, 512, 4, tok.tokens_per_frame)
    ac = ActorCritic(cfg.actor_critic, 4)
    n = [sum(p.numel() for p in m.parameters()) for m in (tok, wm, ac)]
    # reference counts (shared/research/peer-timings.md §2.1): identical layouts
    assert n == [4_027_523, 8_447_493, 3_217_957]
    assert tok.tokens_per_frame == 16


# -- perceptual loss ---------------------------------------------------------------------------
def test_perceptual_loss_off_without_file_and_loaded_safely(tmp_path):
    with pytest.warns(UserWarning, match="perceptual"):
        assert load_perceptual_loss("") is None
    with pytest.raises(ConfigError, match="does not exist"):
        load_perceptual_loss(str(tmp_path / "missing.pt"))
    ref = PerceptualLoss()
    state = {f"features.{i}.{n}": getattr(m, n).detach().clone()
             for i, m in enumerate(ref.features) if isinstance(m, torch.nn.Conv2d)
             for n in ("weight", "bias")}
    state.update({f"lin{k}.weight": torch.rand_like(p) for k, p in enumerate(ref.lins)})
    path = tmp_path / "vgg_lpips.pt"
    torch.save(state, path)
    loss = load_perceptual_loss(str(path))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(loss(x, x), torch.zeros(2), atol=1e-6)
    assert (loss(x, -x) > 0).all()
    bad = tmp_path / "code.pt"
    torch.save({"obj": object()}, bad)  # not weights-only: must be refused
    with pytest.raises(ConfigError, match="weights-only"):
        load_perceptual_loss(str(bad))


# -- world model -------------------------------------------------------------------------------
def small_wm(dropout: float = 0.0) -> WorldModel:
    cfg = WorldModelConfig(tokens_per_block=5, max_blocks=4, num_layers=2, num_heads=2,
                           embed_dim=32, embed_pdrop=dropout, resid_pdrop=dropout,
                           attn_pdrop=dropout)
    torch.manual_seed(0)
    return WorldModel(cfg, vocab_size=11, num_actions=3, tokens_per_frame=4).eval()


def random_sequence(wm: WorldModel, b: int, t: int) -> torch.Tensor:
    pos = torch.arange(t)
    is_action = pos % 5 == 4
    frame = torch.randint(0, 11, (b, t))
    act = torch.randint(0, 3, (b, t))
    return torch.where(is_action[None], act, frame)


def test_kv_cache_gives_same_outputs_as_full_sequence():
    wm = small_wm()
    seq = random_sequence(wm, 3, 20)
    with torch.no_grad():
        full = wm(seq)
        cache = wm.new_cache(3)
        # feed in uneven chunks: 4 tokens, then 1, 2, 1, ...
        outs, i = [], 0
        for n in [4, 1, 2, 1, 3, 1, 1, 5, 2]:
            outs.append(wm(seq[:, i:i + n], cache))
            i += n
        cached = torch.cat(outs, 1)
    assert i == 20 and cache.size == 20
    torch.testing.assert_close(cached, full, rtol=1e-5, atol=1e-5)
    for head in (wm.obs_head, wm.reward_head, wm.end_head):
        torch.testing.assert_close(head(cached), head(full), rtol=1e-5, atol=1e-5)


def test_attention_is_causal_over_tokens():
    wm = small_wm()
    seq = random_sequence(wm, 2, 20)
    changed = seq.clone()
    changed[:, 12:] = random_sequence(wm, 2, 20)[:, 12:]
    changed[:, 12] = (seq[:, 12] + 1) % 3  # position 12 is a frame token: differs for sure
    with torch.no_grad():
        a, b = wm(seq), wm(changed)
    torch.testing.assert_close(a[:, :12], b[:, :12])
    assert not torch.allclose(a[:, 12], b[:, 12])


def test_world_model_loss_targets_and_masking():
    wm = small_wm()
    b, seq_len, k = 2, 4, 4
    tokens = torch.randint(0, 11, (b, seq_len, k))
    actions = torch.randint(0, 3, (b, seq_len))
    rewards = torch.tensor([[0.0, 2.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    ends = torch.tensor([[0, 0, 0, 1], [0, 0, 0, 0]], dtype=torch.bool)
    mask = torch.ones(b, seq_len, dtype=torch.bool)
    loss, parts = wm.compute_loss(tokens, actions, rewards, ends, mask)
    loss.backward()
    assert set(parts) == {"obs", "reward", "end"} and torch.isfinite(loss)
    # padded steps do not count: garbage in padding leaves the loss unchanged
    mask2 = mask.clone()
    mask2[0, 3] = False
    l1, _ = wm.compute_loss(tokens, actions, rewards, ends, mask2)
    tokens2, rewards2 = tokens.clone(), rewards.clone()
    tokens2[0, 3] = (tokens2[0, 3] + 1) % 11
    rewards2[0, 3] = 5.0
    l2, _ = wm.compute_loss(tokens2, actions, rewards2, ends, mask2)
    torch.testing.assert_close(l1, l2)


def test_world_model_optimizer_decays_linear_weights_only():
    wm = small_wm()
    opt = configure_optimizer(wm, 1e-4, 0.01)
    decay = {id(p) for p in opt.param_groups[0]["params"]}
    assert id(wm.blocks[0].attn.qkv.weight) in decay
    assert id(wm.frame_emb.weight) not in decay and id(wm.ln_f.weight) not in decay
    assert id(wm.blocks[0].attn.qkv.bias) not in decay
    assert opt.param_groups[0]["weight_decay"] == 0.01 and opt.param_groups[1]["weight_decay"] == 0


def test_imagination_matches_step_by_step_reference():
    """Batched KV-cached imagination samples exactly the tokens a full-recompute rollout with
    the same random draws would (17 one-token calls per step, as in the reference)."""
    cfg = tiny()
    torch.manual_seed(0)
    tok = Tokenizer(cfg.tokenizer).eval()
    wm = WorldModel(cfg.world_model, cfg.tokenizer.vocab_size, 3, 16).eval()
    start = torch.randint(0, cfg.tokenizer.vocab_size, (4, 16))
    actions = torch.randint(0, 3, (3, 4))
    env = ImaginedEnv(tok, wm, torch.Generator().manual_seed(7))
    env.reset(start)
    got = [env.step(a, decode=False) for a in actions]
    # reference: recompute the whole sequence for every sampled token, same generator
    gen = torch.Generator().manual_seed(7)
    seq = start.clone()
    with torch.no_grad():
        for step, a in enumerate(actions):
            seq = torch.cat([seq, a[:, None]], 1)
            h = wm(seq)[:, -1]
            r = torch.multinomial(torch.softmax(wm.reward_head(h), -1), 1, generator=gen)[:, 0]
            d = torch.multinomial(torch.softmax(wm.end_head(h), -1), 1, generator=gen)[:, 0]
            toks = []
            for _ in range(16):
                t = torch.multinomial(torch.softmax(wm.obs_head(h), -1), 1, generator=gen)[:, 0]
                toks.append(t)
                seq = torch.cat([seq, t[:, None]], 1)
                h = wm(seq)[:, -1]
            _, reward, done, tokens = got[step]
            assert torch.equal(tokens, torch.stack(toks, 1))
            assert torch.equal(reward, r.float() - 1) and torch.equal(done, d.bool())


# -- actor-critic ------------------------------------------------------------------------------
def test_lambda_returns_hand_computed():
    # IRIS convention: no bootstrap past a termination; bootstrap from V at the last state
    r = torch.tensor([1.0, 0.0, 2.0])
    v = torch.tensor([0.5, 1.0, 2.0, 4.0])
    done = torch.tensor([0.0, 1.0, 0.0])
    g, lam = 0.9, 0.5
    out = lambda_returns(r, v, g * (1 - done), lam)
    g2 = 2.0 + g * 4.0  # 5.6
    g1 = 0.0  # terminated: nothing after
    g0 = 1.0 + g * ((1 - lam) * 1.0 + lam * g1)  # 1.45
    torch.testing.assert_close(out, torch.tensor([g0, g1, g2]))


def test_actor_critic_loss_and_masked_burn_in():
    torch.manual_seed(0)
    ac = ActorCritic(tiny().actor_critic, 3)
    x = torch.rand(2, 3, 64, 64)
    s0 = ac.initial_state(2)
    s0 = (s0[0] + 1.0, s0[1] - 1.0)
    _, _, (h, c) = ac(x, s0, torch.tensor([True, False]))
    assert torch.equal(h[1], s0[0][1]) and not torch.equal(h[0], s0[0][0])
    # centered_input=False (tiny) feeds frames in [0, 1] as they are; the reference feeds 2x - 1
    unit_cfg = tiny().actor_critic
    unit_cfg.centered_input = False
    unit = ActorCritic(unit_cfg, 3)
    unit.load_state_dict(ac.state_dict())
    torch.testing.assert_close(unit(x * 2.0 - 1.0, s0)[0], ac(x, s0)[0])
    logits = torch.randn(4, 2, 3, requires_grad=True)
    values = torch.randn(4, 2, requires_grad=True)
    actions = torch.randint(0, 3, (4, 2))
    returns = torch.randn(4, 2)
    loss, parts = actor_critic_loss(logits, actions, values, returns, 0.001)
    loss.backward()
    logp = torch.log_softmax(logits.detach(), -1)
    expect = (-(logp.gather(-1, actions[..., None])[..., 0] * (returns - values.detach())).mean()
              - 0.001 * -(logp.exp() * logp).sum(-1).mean()
              + ((values.detach() - returns) ** 2).mean())
    torch.testing.assert_close(loss.detach(), expect)
    # mask_after_end: weight-0 steps (after an imagined end) give no gradient and leave the mean
    weights = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    logits.grad = None
    masked, _ = actor_critic_loss(logits, actions, values, returns, 0.001, weights)
    masked.backward()
    assert logits.grad[2:].abs().sum() == 0 and logits.grad[1, 1].abs().sum() == 0
    keep = weights.bool()
    expect = (-(logp.gather(-1, actions[..., None])[..., 0] * (returns - values.detach()))[keep].mean()
              - 0.001 * -(logp.exp() * logp).sum(-1)[keep].mean()
              + ((values.detach() - returns) ** 2)[keep].mean())
    torch.testing.assert_close(masked.detach(), expect)


# -- agent contract ----------------------------------------------------------------------------
def test_presets_overrides_and_bad_keys():
    agent = make_agent(**{"training.test_temperature": 0.25, "actor_critic.gamma": 0.9})
    assert agent.config["training"]["test_temperature"] == 0.25
    assert agent.config["actor_critic"]["gamma"] == 0.9
    assert agent.config["perceptual_loss_active"] is False
    assert agent.default_train_steps() > 0
    with pytest.raises(ConfigError, match="unknown config key"):
        make_agent(**{"training.nope": 1})
    with pytest.raises(ConfigError, match="tokenizer_stop_after_epochs' must be >= 0"):
        make_agent(**{"training.tokenizer_stop_after_epochs": -1})
    with pytest.raises(ConfigError, match="unknown preset"):
        from wmbench_iris.agent import IrisAgent

        IrisAgent(env=make_env_spec("catch"), preset="huge")
    assert resolve_config(IrisConfig, PRESETS, None).training.test_temperature == 0.5


def test_act_is_deterministic_per_seed_and_state_has_batch_first():
    obs = np.random.default_rng(0).integers(0, 255, (5, 64, 64, 3), dtype=np.uint8)
    a1, a2 = make_agent(), make_agent()
    s1, s2 = a1.initial_state(5), a2.initial_state(5)
    for _ in range(3):
        act1, s1 = a1.act(obs, s1)
        act2, s2 = a2.act(obs, s2)
        assert np.array_equal(act1, act2) and act1.shape == (5,)
    assert isinstance(s1, tuple) and all(t.shape[0] == 5 for t in s1)
    reset = a1.reset_state(s1, np.array([True, False, False, False, False]))
    assert torch.all(reset[0][0] == 0) and torch.equal(reset[0][1], s1[0][1])


def test_train_checkpoint_resume_and_losses_csv(tmp_path):
    over = {"training.collect_steps_per_epoch": 20, "training.tokenizer_start_after_epochs": 0,
            "training.world_model_start_after_epochs": 0,
            "training.actor_critic_start_after_epochs": 1,
            "training.tokenizer_steps_per_epoch": 1, "training.world_model_steps_per_epoch": 1,
            "training.actor_critic_steps_per_epoch": 1, "training.tokenizer_batch_size": 4,
            "training.world_model_batch_size": 2, "training.actor_critic_batch_size": 2,
            "actor_critic.imagine_horizon": 3, "training.log_every": 1}
    agent = make_agent(tmp_path, **over)
    summary = agent.train(40)
    assert agent.env_steps_trained == 40 and summary["epochs"] == 2
    assert summary["updates"] == {"tokenizer": 2, "world_model": 2, "actor_critic": 1}
    header = (tmp_path / "losses.csv").read_text().splitlines()[0]
    for col in ("env_step", "epoch", "tokenizer/l1", "world_model/obs", "actor_critic/value"):
        assert col in header
    path = tmp_path / "ckpt.pt"
    agent.save_checkpoint(path)
    resumed = make_agent(tmp_path / "b", **over)
    resumed.load_checkpoint(path)
    assert resumed.epoch == 2 and resumed.env_steps_trained == 40 and len(resumed.replay) == 40
    for p, q in zip(agent.world_model.parameters(), resumed.world_model.parameters()):
        assert torch.equal(p, q)
    assert resumed.opt_world_model.state_dict()["state"].keys() == \
        agent.opt_world_model.state_dict()["state"].keys()
    resumed.train(60)  # continues: one more collection epoch
    assert resumed.epoch == 3 and resumed.env_steps_trained == 60 and len(resumed.replay) == 60
    other = make_agent(**{"world_model.embed_dim": 32})
    with pytest.raises(CheckpointError, match="does not match"):
        other.load_checkpoint(path)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        agent.load_checkpoint(tmp_path / "junk.pt")


def test_non_finite_loss_stops_training(tmp_path):
    agent = make_agent(tmp_path, **{"training.collect_steps_per_epoch": 10,
                                    "training.world_model_start_after_epochs": 0,
                                    "training.world_model_steps_per_epoch": 1,
                                    "training.world_model_batch_size": 2})
    with torch.no_grad():  # the world model is not used for acting: collection still works
        agent.world_model.reward_head[2].bias.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="world_model"):
        agent.train(10)
    monitor = TrainingMonitor(None, None, 1)
    with pytest.raises(NonFiniteLossError):
        monitor.log(1, {"x": float("inf")})


def test_describe_counts_components():
    d = make_agent().describe()
    p = d["parameters"]
    assert p["total"] == p["tokenizer"] + p["world_model"] + p["actor_critic"]
    assert d["hyperparameters"]["preset"] == "tiny"


def test_plugin_spec():
    from wmbench_iris.plugin import wmbench_agents

    (spec,) = wmbench_agents()
    assert spec.name == "iris" and spec.default_preset == "atari100k"
    assert list(spec.presets) == ["atari100k", "tiny"]
    assert spec.load_factory().__name__ == "IrisAgent"
