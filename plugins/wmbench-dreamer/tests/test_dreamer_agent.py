"""The Dreamer agents against the wmbench agent contract (fast)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from wmbench_dreamer.agent import DreamerV1Agent, DreamerV2Agent, DreamerV3Agent

from wmbench_core.agent import CheckpointError, ConfigError
from wmbench_core.envs import EnvSpec
from wmbench_core.learning.monitor import NonFiniteLossError
from wmbench_core.testing import check_agent_contract

AGENTS = [DreamerV3Agent, DreamerV2Agent, DreamerV1Agent]
#: smallest settings that still run every code path (world model and actor-critic updates)
FAST = dict(prefill=8, seq_len=4, batch_size=2, horizon=3, train_ratio=8.0, log_every=4)


@pytest.fixture(scope="module")
def catch() -> EnvSpec:
    return EnvSpec("catch")


# small models: one torch thread is faster and does not fight other tests for the cores
pytestmark = pytest.mark.usefixtures("wmbench_one_torch_thread")


def test_v3_atari100k_parameter_counts_match_the_paper():
    agent = DreamerV3Agent(env=EnvSpec("Pong"), preset="atari100k")
    params = agent.describe()["parameters"]
    # DreamerV3 size S: 18M parameters (paper Table B.1, DIAMOND Table 4)
    assert abs(params["total"] - 18e6) / 18e6 < 0.05
    parts = ["encoder", "rssm", "decoder", "reward_head", "continue_head", "actor", "critic"]
    assert sum(params[p] for p in parts) == params["total"]
    cfg = agent.config
    assert (cfg["batch_size"], cfg["seq_len"], cfg["train_ratio"], cfg["horizon"]) == (16, 64, 1024, 15)
    assert cfg["gamma"] == pytest.approx(1 - 1 / 333)
    json.dumps(agent.describe())


@pytest.mark.parametrize("cls", AGENTS)
def test_contract_on_catch(cls, catch, tmp_path):
    check_agent_contract(cls, env=catch, preset="tiny", train_steps=24, tmp_dir=tmp_path, **FAST)


def test_act_samples_deterministically_per_seed(catch):
    obs = np.zeros((4, 64, 64, 3), np.uint8)
    obs[:, :8, :8, 0] = 255

    def actions(seed: int, act_seed: int | None = None) -> list[int]:
        agent = DreamerV3Agent(env=catch, preset="tiny", seed=seed)
        if act_seed is not None:  # same weights, another stream of action samples
            agent.act_generator.manual_seed(act_seed)
        state, out = None, []
        for _ in range(5):
            a, state = agent.act(obs, state)
            out += a.tolist()
        return out

    assert actions(3) == actions(3)
    assert actions(3) != actions(3, act_seed=12345)  # sampled, not greedy: other samples, same net


@pytest.mark.parametrize("cls, samples", [(DreamerV3Agent, True), (DreamerV2Agent, False), (DreamerV1Agent, False)])
def test_evaluation_policy_follows_each_paper(cls, samples, catch):
    """V3 evaluates with sampled actions, V1/V2 with the actor's mode: the mode is the argmax of
    the actor's output for the filtered state, whatever the act generator's seed."""
    agent = cls(env=catch, preset="tiny", seed=0)
    assert agent.config["eval_sample"] is samples
    obs = np.zeros((64, 64, 64, 3), np.uint8)
    agent.ac.actor.requires_grad_(False)
    for p in agent.ac.actor.parameters():  # a non-uniform policy that is not deterministic
        p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))

    def greedy(state: tuple) -> np.ndarray:
        return agent.ac.actor(agent.wm.rssm.features({"deter": state[0], "stoch": state[1]})).argmax(-1).numpy()

    a, state = agent.act(obs, None)
    assert (a == greedy(state)).all() != samples
    sampled, state = agent.policy(obs, None, sample=True)
    assert (sampled != greedy(state)).any()  # collection always samples


def test_state_has_batch_on_dim0_and_resets(catch):
    agent = DreamerV3Agent(env=catch, preset="tiny")
    obs = np.zeros((3, 64, 64, 3), np.uint8)
    _, state = agent.act(obs, None)
    _, state = agent.act(obs, state)
    assert all(t.shape[0] == 3 for t in state)
    fresh = agent.initial_state(3)
    reset = agent.reset_state(state, np.array([True, False, False]))
    assert torch.equal(reset[0][0], fresh[0][0]) and torch.equal(reset[2][0], fresh[2][0])
    assert torch.equal(reset[0][1], state[0][1])


def test_bad_config_is_one_line_config_error(catch):
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        DreamerV3Agent(env=catch, preset="huge")
    with pytest.raises(ConfigError, match="unknown config key 'horizn'"):
        DreamerV3Agent(env=catch, preset="tiny", horizn=3)
    with pytest.raises(ConfigError, match="kl_mode"):
        DreamerV3Agent(env=catch, preset="tiny", kl_mode="nope")
    with pytest.raises(ConfigError, match="'image_size' must be one of 64, 32, 16, got 48"):
        DreamerV3Agent(env=catch, preset="tiny", image_size=48)


def test_checkpoint_roundtrip_resume_and_replay_flag(catch, tmp_path):
    a = DreamerV3Agent(env=catch, preset="tiny", work_dir=tmp_path / "w", **FAST)
    a.train(20)
    assert a.trainer.updates > 0
    path = tmp_path / "a.pt"
    a.save_checkpoint(path)
    data = torch.load(path, weights_only=True)
    assert "replay" not in data  # replay is opt-in (checkpoint_replay=True)
    b = DreamerV3Agent(env=catch, preset="tiny", **FAST)
    b.load_checkpoint(path)
    assert b.env_steps_trained == 20 and b.trainer.updates == a.trainer.updates
    for k, v in a.ac.state_dict().items():  # incl. slow critic and return-normalisation stats
        assert torch.equal(v, b.ac.state_dict()[k]), k
    assert b.trainer.wm_opt.state_dict()["state"].keys() == a.trainer.wm_opt.state_dict()["state"].keys()
    # continues from step 20; the replay was not saved, so the first steps refill it to the
    # prefill size (8 rows) before updating again: no update on 4-5 rows, then 1 per step
    b.train(24)
    assert b.env_steps_trained == 24 and len(b.replay) < 8 and b.trainer.updates == a.trainer.updates
    b.train(40)
    assert b.env_steps_trained == 40 and b.trainer.updates >= a.trainer.updates + 8
    # with the flag the replay is saved and restored
    c = DreamerV3Agent(env=catch, preset="tiny", checkpoint_replay=True, **FAST)
    c.train(12)
    c.save_checkpoint(tmp_path / "c.pt")
    d = DreamerV3Agent(env=catch, preset="tiny", checkpoint_replay=True, **FAST)
    d.load_checkpoint(tmp_path / "c.pt")
    assert len(d.replay) == len(c.replay)
    assert np.array_equal(d.replay.data["obs"][: len(c.replay)], c.replay.data["obs"][: len(c.replay)])


def test_checkpoint_of_other_architecture_or_agent_is_refused(catch, tmp_path):
    a = DreamerV3Agent(env=catch, preset="tiny")
    a.save_checkpoint(tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="another architecture"):
        DreamerV3Agent(env=catch, preset="tiny", deter=64).load_checkpoint(tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="belongs to agent"):
        DreamerV2Agent(env=catch, preset="tiny").load_checkpoint(tmp_path / "a.pt")


def test_losses_csv_and_progress(catch, tmp_path):
    seen = []

    class Rec:
        def start(self, total, description=""):
            seen.append(("start", total))

        def update(self, step, metrics=None):
            seen.append((step, dict(metrics or {})))

        def log(self, message):
            pass

        def stop(self):
            pass

    a = DreamerV3Agent(env=catch, preset="tiny", work_dir=tmp_path, **FAST)
    a.train(24, Rec())
    assert seen[0] == ("start", 24)
    last = seen[-1][1]
    assert last["updates/s"] > 0 and "wm/loss" in last and "ac/actor_loss" in last
    with open(tmp_path / "losses.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {"env_step", "wm/image", "wm/kl", "ac/critic_loss"} <= set(rows[-1])


def test_nan_loss_stops_training_naming_loss_and_step(catch, monkeypatch):
    a = DreamerV3Agent(env=catch, preset="tiny", **FAST)
    real = a.trainer.update

    def broken(*args, **kwargs):
        metrics = real(*args, **kwargs)
        metrics["wm/reward"] = float("nan")
        return metrics

    monkeypatch.setattr(a.trainer, "update", broken)
    with pytest.raises(NonFiniteLossError, match=r"'wm/reward' is nan at env step 8"):
        a.train(24)


@pytest.mark.slow
def test_atari100k_v3_end_to_end_tiny_budget(tmp_path):
    """The full-size DreamerV3 on Pong: a few env steps and one update of a short batch."""
    agent = DreamerV3Agent(
        env=EnvSpec("Pong"), preset="atari100k", prefill=6, seq_len=4, batch_size=2,
        train_ratio=8.0, work_dir=tmp_path,
    )  # fmt: skip
    agent.train(8)
    assert agent.trainer.updates >= 1
    actions, state = agent.act(np.zeros((2, 64, 64, 3), np.uint8), None)
    assert actions.shape == (2,) and ((0 <= actions) & (actions < agent.num_actions)).all()


def test_replay_sampling_follows_each_papers_code():
    """V3 draws windows uniformly over steps, across episodes; V1 an episode, then a window inside
    it; V2 the same favouring the episode's last window. The tiny presets keep V3's scheme."""
    from wmbench_dreamer.configs import CONFIG_CLASSES, PRESETS

    assert {v: CONFIG_CLASSES[v]().replay_sampling for v in (1, 2, 3)} == {
        1: "episode", 2: "episode_ends", 3: "uniform"}  # fmt: skip
    assert all(PRESETS[v]["tiny"].get("replay_sampling", "uniform") == "uniform" for v in (1, 2, 3))


@pytest.mark.parametrize("cls, layout", [(DreamerV1Agent, "state_after_start"), (DreamerV2Agent, "state"),
                                          (DreamerV3Agent, "next")])  # fmt: skip
def test_each_versions_return_layout_trains_the_actor_and_critic(cls, layout, catch):
    """Each paper's return indexing is its atari100k default and updates both networks."""
    assert cls(env=EnvSpec("Pong"), preset="atari100k").config["return_layout"] == layout
    agent = cls(env=catch, preset="tiny", seed=0, return_layout=layout, **FAST)
    before = [p.detach().clone() for p in (*agent.trainer.ac.actor.parameters(), *agent.trainer.ac.critic.parameters())]
    agent.train(24)
    after = [*agent.trainer.ac.actor.parameters(), *agent.trainer.ac.critic.parameters()]
    assert agent.trainer.updates >= 1
    assert all(not torch.equal(b, a) for b, a in zip(before, after) if a.dim() == 2)


@pytest.mark.parametrize("sampling", ["episode", "episode_ends"])
def test_v1_v2_train_on_windows_inside_one_episode(catch, sampling):
    settings = {**FAST, "batch_size": 16}
    agent = DreamerV2Agent(env=catch, preset="tiny", seed=0, replay_sampling=sampling, **settings)
    agent.train(48)  # catch's episodes (8 rows) are longer than these 4-row windows
    assert agent.trainer.updates >= 1
    rng = np.random.default_rng(0)
    episode = agent.trainer.sample(agent.replay, rng)["episode"][:, 1:]  # the trained rows
    assert (episode == episode[:, :1]).all()
    uniform = DreamerV2Agent(env=catch, preset="tiny", seed=0, replay_sampling="uniform", **settings)
    episode = uniform.trainer.sample(agent.replay, rng)["episode"][:, 1:]
    assert (episode != episode[:, :1]).any()  # V3's windows run across episode boundaries


def test_v1_explores_epsilon_greedy_while_v2_v3_only_sample(catch):
    """DreamerV1's discrete variant replaces a fraction epsilon of the collected actions by uniform
    ones (its code's ``epsilon_greedy``); V2/V3 explore by sampling alone."""
    v1 = DreamerV1Agent(env=catch, preset="tiny", seed=0, expl_amount=0.3, expl_decay=0)  # constant
    rate = np.mean([v1._explore(step) for step in range(4000)])
    assert abs(rate - 0.3) < 0.03
    decayed = DreamerV1Agent(env=catch, preset="tiny", seed=0, expl_amount=0.4, expl_decay=1000, expl_min=0.1)
    assert abs(np.mean([decayed._explore(1000) for _ in range(4000)]) - 0.2) < 0.03  # one half-life
    assert abs(np.mean([decayed._explore(10**6) for _ in range(4000)]) - 0.1) < 0.03  # the floor
    v3 = DreamerV3Agent(env=catch, preset="tiny", seed=0)
    assert not any(v3._explore(step) for step in range(100))
    with pytest.raises(ConfigError, match="expl"):
        DreamerV1Agent(env=catch, preset="tiny", expl="boltzmann")


def test_v1_ends_the_learning_episode_on_a_lost_life_v3_does_not(catch):
    """V1's Atari env ends episodes on a lost life (``life_done=True``); V2/V3 ignore lives. Here a
    life is lost every 3rd step of catch (7-step episodes): V1 stores a terminal row and starts a
    new sequence there, the game going on; V3 stores only the real episode ends."""
    import gymnasium as gym

    class LosesLives(gym.Wrapper):
        def reset(self, **kwargs):
            self.t = 0
            return self.env.reset(**kwargs)

        def step(self, action):
            obs, reward, terminated, truncated, info = self.env.step(action)
            self.t += 1
            return obs, reward, terminated, truncated, {**info, "life_loss": self.t % 3 == 0}

    class Spec:
        def __getattr__(self, name):
            return getattr(catch, name)

        def make(self, seed=None):
            return LosesLives(catch.make(seed=seed))

    counts = {}
    for cls in (DreamerV1Agent, DreamerV3Agent):
        agent = cls(env=catch, preset="tiny", **{**FAST, "prefill": 100})
        agent.env = Spec()
        agent.train(14)  # two catch episodes, lives lost at steps 3 and 6 of each
        rows = {k: agent.replay.data[k][: len(agent.replay)] for k in ("terminated", "is_first")}
        counts[cls.version] = (int(rows["terminated"].sum()), int(rows["is_first"].sum()))
    assert counts[3] == (2, 2)  # two game overs, two episode starts
    assert counts[1] == (6, 6)  # plus two lost lives per episode, each starting a new sequence
