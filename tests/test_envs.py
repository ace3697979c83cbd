from __future__ import annotations

import numpy as np
import pytest

from wmbench_core.envs import ATARI100K, ATARI100K_GAMES, UnknownGameError, make_env_spec, resolve_game
from wmbench_core.envs.catch import CATCH_RANDOM_RETURN, CatchEnv


@pytest.mark.parametrize("name", ["ALE/Pong-v5", "Pong-v5", "Pong", "pong", "PongNoFrameskip-v4"])
def test_lenient_game_names(name):
    assert resolve_game(name) == "Pong"


def test_suite_names_resolve_to_themselves():
    assert len(ATARI100K_GAMES) == 26
    for g in ATARI100K_GAMES:
        assert resolve_game(g) == g
    assert resolve_game("up_n_down") == "UpNDown"


def test_unknown_game_did_you_mean():
    with pytest.raises(UnknownGameError, match="did you mean Breakout"):
        resolve_game("Breakot")


def test_protocol_defaults_are_atari100k():
    p = ATARI100K
    assert (p.frameskip, p.noop_max, p.repeat_action_probability, p.screen_size) == (4, 30, 0.0, 64)
    assert p.full_action_space is False and p.grayscale is False
    assert p.max_episode_frames == 108_000 and p.eval_terminal_on_life_loss is False
    custom = p.replace(noop_max=0)
    assert custom.name == "atari100k+custom" and custom.key != p.key


def test_catch_random_and_optimal_returns():
    env = CatchEnv()
    rng = np.random.default_rng(0)
    returns = []
    for ep in range(4000):
        env.reset(seed=ep)
        done, total = False, 0.0
        while not done:
            _, r, done, _, _ = env.step(int(rng.integers(3)))
            total += r
        returns.append(total)
    assert abs(np.mean(returns) - CATCH_RANDOM_RETURN) < 0.05
    # optimal: move towards the ball's column
    env.reset(seed=1)
    done = False
    while not done:
        ball, paddle = env._ball_col, env._paddle
        _, r, done, _, _ = env.step(1 + int(np.sign(ball - paddle)))
    assert r == 1.0


def test_catch_frames_are_64x64_rgb_uint8():
    spec = make_env_spec("catch")
    obs, _ = spec.make().reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert spec.num_actions == 3


def test_single_and_vector_atari_paths_agree():
    spec = make_env_spec("Pong", noop_max=0)  # no random no-ops, so both paths start alike
    env = spec.make()
    venv = spec.make_vector(1)
    obs, _ = env.reset(seed=3)
    vobs, _ = venv.reset(seed=3)
    assert obs.shape == (64, 64, 3) and vobs.shape == (1, 64, 64, 3)
    np.testing.assert_array_equal(obs, vobs[0])
    rng = np.random.default_rng(0)
    for _ in range(300):
        a = int(rng.integers(spec.num_actions))
        obs, r, term, trunc, _ = env.step(a)
        vobs, vr, vterm, vtrunc, _ = venv.step(np.array([a]))
        np.testing.assert_array_equal(obs, vobs[0])
        assert r == vr[0] and term == vterm[0] and trunc == vtrunc[0]
    env.close()
    venv.close()


def test_atari_minimal_action_set_and_life_loss_info():
    spec = make_env_spec("Breakout")
    assert spec.num_actions == 4
    env = spec.make()
    env.reset(seed=0)
    saw_life_loss = False
    for _ in range(2000):
        _, _, term, trunc, info = env.step(env.action_space.sample())
        saw_life_loss |= info["life_loss"]
        if term or trunc:
            break
    assert saw_life_loss
