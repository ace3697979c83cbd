"""Do the tiny IRIS world model and actor-critic learn catch when the tokens are exact?

The world model trains on exact tokens (as in ``catch_world_model.py``: one token per 2x2 block
content), then the actor-critic trains with the plugin's own ``actor_critic_update`` in that
world model's imagination; a renderer of the exact tokens stands in for the tokenizer's decoder.
Reports the world model's end reward in one-step rollouts from the last real frame, then every 100
actor-critic updates the policy's mean return on the true game (200 episodes, temperature 0.5).

    python plugins/wmbench-iris/diagnostics/catch_actor_critic.py wm_updates=1500 ac_updates=600

Measured 2026-12-02 (defaults, seed 0, one thread, 473 s beside another job): end reward right 88%
(catches 68%, misses 91%); policy -0.72 / -0.65 / -0.15 / +0.69 / +0.55 / +0.60 after 100-600
actor-critic updates (random play: -0.75).
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch
from catch_world_model import GRID, STEPS, VOCAB, ExactTokens, grid_of, parse_args, random_episode, world_model_segments
from wmbench_iris.actor_critic import ActorCritic
from wmbench_iris.configs import PRESETS, IrisConfig
from wmbench_iris.imagination import ImaginedEnv, sample
from wmbench_iris.trainer import actor_critic_update
from wmbench_iris.world_model import WorldModel, configure_optimizer

from wmbench_core.learning.config import resolve_config

COLOURS = {0: (0.0, 0.0, 0.0), 1: (1.0, 0.0, 0.0), 2: (1.0, 1.0, 1.0), 3: (1.0, 1.0, 1.0)}


class ExactRenderer:
    """Exact tokens -> 16x16 frames (one catch cell = 2x2 pixels), in place of the decoder."""

    def __init__(self, tok: ExactTokens, cfg) -> None:
        self.cfg = cfg
        self.lut = torch.zeros(VOCAB, 3, 4, 4)
        for t, block in tok.blocks.items():
            for r in range(2):
                for c in range(2):
                    colour = torch.tensor(COLOURS[int(block[r, c])])[:, None, None]
                    self.lut[t, :, 2 * r:2 * r + 2, 2 * c:2 * c + 2] = colour

    def eval(self) -> ExactRenderer:
        return self

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        b = tokens.shape[0]
        x = self.lut[tokens].view(b, 4, 4, 3, 4, 4).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(b, 3, 16, 16)


def main() -> None:
    defaults = {"wm_updates": 1500, "ac_updates": 600, "batch": 32, "seed": 0}
    args, _ = parse_args(defaults)
    seed = args["seed"]
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    tok = ExactTokens()
    cfg = resolve_config(IrisConfig, PRESETS, "tiny", {})
    render = ExactRenderer(tok, cfg.tokenizer)

    episodes = [random_episode(tok, rng) for _ in range(300)]

    def ac_segments(n: int, burn: int) -> tuple[torch.Tensor, torch.Tensor]:
        """burn + 1 frames ending at a uniform step, left-padded (as ``actor_critic_batch``)."""
        toks, mask = np.zeros((n, burn + 1, 16), np.int64), np.zeros((n, burn + 1), bool)
        for i in range(n):
            obs = episodes[rng.integers(len(episodes))][0]
            last = int(rng.integers(STEPS))
            for j in range(burn + 1):
                if (s := last - burn + j) >= 0:
                    toks[i, j], mask[i, j] = obs[s], True
        return torch.as_tensor(toks), torch.as_tensor(mask)

    wm = WorldModel(cfg.world_model, VOCAB, 3, 16)
    opt = configure_optimizer(wm, cfg.training.world_model_lr, cfg.training.world_model_weight_decay)
    t0 = time.time()
    for _ in range(args["wm_updates"]):
        wm.train()
        loss, _ = wm.compute_loss(*world_model_segments(episodes, rng, args["batch"]))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(wm.parameters(), cfg.training.max_grad_norm)
        opt.step()

    @torch.no_grad()
    def end_reward(n: int = 512) -> dict[str, float]:
        """One imagined step from a frame with the ball one row above the paddle's row."""
        wm.eval()
        env = ImaginedEnv(render, wm, torch.Generator().manual_seed(seed), 1.0)
        cols, pads, acts = rng.integers(GRID, size=n), rng.integers(GRID, size=n), rng.integers(3, size=n)
        truth = torch.tensor(np.where(np.clip(pads + acts - 1, 0, GRID - 1) == cols, 1.0, -1.0))
        env._prefill(torch.tensor([tok(grid_of(STEPS - 1, int(c), int(p))) for c, p in zip(cols, pads)]))
        _, reward, done, _ = env.step(torch.as_tensor(acts), decode=False)
        return {"end_predicted": float(done.float().mean()),
                "end_reward_right": float((reward == truth).float().mean()),
                "catches_right": float((reward[truth > 0] == 1).float().mean()),
                "misses_right": float((reward[truth < 0] == -1).float().mean())}

    print(json.dumps({"wm_updates": args["wm_updates"], **end_reward(), "s": round(time.time() - t0)}),
          flush=True)

    ac = ActorCritic(cfg.actor_critic, 3, cfg.tokenizer.resolution)
    ac_opt = torch.optim.Adam(ac.parameters(), lr=cfg.training.actor_critic_lr)
    gen = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def evaluate(n: int = 200) -> float:
        ac.eval()
        g = torch.Generator().manual_seed(seed + 1)
        cols, pads = rng.integers(GRID, size=n), np.full(n, GRID // 2)
        state = ac.initial_state(n)
        for r in range(STEPS):
            frames = render.decode_tokens(torch.tensor([tok(grid_of(r, int(c), int(p)))
                                                        for c, p in zip(cols, pads)]))
            logits, _, state = ac(frames, state)
            pads = np.clip(pads + sample(logits, g, cfg.training.test_temperature).numpy() - 1, 0, GRID - 1)
        return float(np.where(pads == cols, 1.0, -1.0).mean())

    for u in range(1, args["ac_updates"] + 1):
        toks, mask = ac_segments(cfg.training.actor_critic_batch_size, cfg.actor_critic.burn_in)
        out = actor_critic_update(ac, ac_opt, render, wm, toks, mask, cfg, gen)
        if u % 100 == 0:
            print(json.dumps({"ac_updates": u, "imagined_return": round(out["actor_critic/imagined_return"], 3),
                              "entropy": round(out["actor_critic/entropy"], 3), "policy_return": evaluate(),
                              "s": round(time.time() - t0)}), flush=True)


if __name__ == "__main__":
    main()
