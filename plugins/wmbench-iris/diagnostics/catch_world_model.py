"""Does the tiny IRIS world model learn catch's dynamics? The world model alone, on exact tokens.

Catch frames become 16 exact tokens (one per 2x2 block of the 8x8 grid, each distinct block
content one token: the tiny preset's patch tokenizer at its best), random-policy episodes are
sampled into right-padded segments as ``trainer.world_model_batch`` does, and the world model
trains with its own loss. Every 250 updates it reports

* ``tf_bottom``: teacher-forced, the share of next frames whose bottom-row tokens (ball and
  paddle) are all predicted right (argmax); ``tf_bottom_moved`` the same after a left/right action;
* ``imag_follow``: in imagination (``ImaginedEnv``, KV cache, sampling at ``temp``), the share of
  imagined steps, before the real episode's end, whose paddle moved as the random action says.

    python plugins/wmbench-iris/diagnostics/catch_world_model.py layers=2 heads=2 dim=64 updates=2000

Measured 2026-12-02 (tiny sizes, batch 32, lr 1e-3, one thread, 0.06 s/update): after 1,000 /
1,250 / 2,000 updates tf_bottom 0.82 / 0.95 / 0.96 and imag_follow 0.73 / 0.91 / 0.94 (0.87 / 0.95 /
0.95 at temp=0.5).
"""

from __future__ import annotations

import itertools
import json
import sys
import time

import numpy as np
import torch
from wmbench_iris.configs import WorldModelConfig
from wmbench_iris.imagination import ImaginedEnv
from wmbench_iris.world_model import WorldModel, configure_optimizer

GRID, STEPS, VOCAB, BLOCKS = 8, 7, 32, 8  # catch grid, steps per episode, tokens, context


def grid_of(ball_row: int, ball_col: int, paddle: int) -> np.ndarray:
    """Cell contents: 0 empty, 1 ball, 2 paddle, 3 ball on the paddle."""
    g = np.zeros((GRID, GRID), np.int64)
    g[ball_row, ball_col] = 1
    g[GRID - 1, paddle] += 2
    return g


class ExactTokens:
    """Token id = index of the 2x2 block's content among all contents seen (fixed up front)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[int, ...], int] = {}
        for r, c, p in itertools.product(range(GRID), range(GRID), range(GRID)):
            self(grid_of(r, c, p))
        self.blocks = {v: np.array(k).reshape(2, 2) for k, v in self.ids.items()}
        assert len(self.ids) <= VOCAB

    def __call__(self, g: np.ndarray) -> list[int]:
        return [self.ids.setdefault(tuple(g[2 * r:2 * r + 2, 2 * c:2 * c + 2].ravel()), len(self.ids))
                for r in range(GRID // 2) for c in range(GRID // 2)]

    def paddle(self, tokens: np.ndarray) -> int | None:
        """Paddle column from a frame's tokens (None if the bottom row is not one paddle)."""
        if any(int(t) not in self.blocks for t in tokens[12:16]):
            return None  # an id no block content has (the vocabulary is larger)
        row = np.concatenate([self.blocks[int(t)][1] for t in tokens[12:16]])
        cols = np.flatnonzero(row >= 2)
        return int(cols[0]) if len(cols) == 1 else None


Episode = tuple[list, list, list, list]  # exact tokens, actions, rewards, ends per step


def random_episode(tok: ExactTokens, rng: np.random.Generator) -> Episode:
    """One catch episode under uniformly random actions, as exact tokens."""
    col, pad = int(rng.integers(GRID)), GRID // 2
    obs, acts, rews, ends = [], [], [], []
    for r in range(STEPS):
        obs.append(tok(grid_of(r, col, pad)))
        a = int(rng.integers(3))
        pad = int(np.clip(pad + a - 1, 0, GRID - 1))
        done = r == STEPS - 1
        acts.append(a)
        rews.append((1.0 if pad == col else -1.0) if done else 0.0)
        ends.append(done)
    return obs, acts, rews, ends


def world_model_segments(episodes: list[Episode], rng: np.random.Generator, n: int) -> list[torch.Tensor]:
    """n segments of BLOCKS steps from uniform starts, right-padded (as ``world_model_batch``):
    tokens, actions, rewards, ends, mask."""
    toks = np.zeros((n, BLOCKS, 16), np.int64)
    act, rew = np.zeros((n, BLOCKS), np.int64), np.zeros((n, BLOCKS), np.float32)
    end, mask = np.zeros((n, BLOCKS), bool), np.zeros((n, BLOCKS), bool)
    for i in range(n):
        o, a, r, e = episodes[rng.integers(len(episodes))]
        s = int(rng.integers(STEPS))
        m = STEPS - s
        toks[i, :m], act[i, :m], rew[i, :m], end[i, :m], mask[i, :m] = o[s:], a[s:], r[s:], e[s:], True
    return [torch.as_tensor(x) for x in (toks, act, rew, end, mask)]


def parse_args(defaults: dict, config_keys: bool = False) -> tuple[dict, dict]:
    """KEY=VALUE arguments -> (values typed like ``defaults``, IRIS config overrides ``a.b=json``
    when ``config_keys``); a bad argument exits with one line naming the valid keys."""
    args, sets = dict(defaults), {}
    for a in sys.argv[1:]:
        key, _, value = a.partition("=")
        try:
            if config_keys and "." in key:
                sets[key] = json.loads(value)
            else:
                args[key] = type(defaults[key])(value)
        except (KeyError, ValueError):
            extra = " or a config key such as tokenizer.commitment_beta" if config_keys else ""
            sys.exit(f"bad argument {a!r}: use KEY=VALUE with KEY one of {', '.join(defaults)}{extra} "
                     f"(defaults: {' '.join(f'{k}={v}' for k, v in defaults.items())})")
    return args, sets


def main() -> None:
    defaults = {"layers": 2, "heads": 2, "dim": 64, "lr": 1e-3, "batch": 32, "updates": 2000,
                "temp": 1.0, "seed": 0}
    args, _ = parse_args(defaults)
    layers, heads, dim = args["layers"], args["heads"], args["dim"]
    lr, batch, updates = args["lr"], args["batch"], args["updates"]
    temp, seed = args["temp"], args["seed"]
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    tok = ExactTokens()

    episodes = [random_episode(tok, rng) for _ in range(400)]

    def segments(n: int) -> list[torch.Tensor]:
        return world_model_segments(episodes, rng, n)

    cfg = WorldModelConfig(max_blocks=BLOCKS, num_layers=layers, num_heads=heads, embed_dim=dim,
                           embed_pdrop=0.0, resid_pdrop=0.0, attn_pdrop=0.0)
    wm = WorldModel(cfg, VOCAB, 3, 16)
    opt = configure_optimizer(wm, lr, 0.01)

    @torch.no_grad()
    def teacher_forced() -> tuple[float, float]:
        toks, act, _, _, mask = segments(512)
        b = toks.shape[0]
        h = wm(torch.cat([toks, act[..., None]], 2).reshape(b, -1)).view(b, BLOCKS, 17, -1)
        # frame t+1's token j >= 1 is predicted at position j - 1 of block t+1
        right = (wm.obs_head(h[:, 1:, 11:15]).argmax(-1) == toks[:, 1:, 12:16]).all(-1)
        valid, moved = mask[:, 1:], act[:, :-1] != 1
        return float(right[valid].float().mean()), float(right[valid & moved].float().mean())

    @torch.no_grad()
    def imagination_follows(n: int = 256) -> float:
        env = ImaginedEnv(None, wm, torch.Generator().manual_seed(123), temp)  # no decoding
        toks, _, _, _, mask = segments(n)
        steps_left = (mask.sum(1) - 1).numpy()  # real transitions after the start frame
        env._prefill(toks[:, 0])
        prev = [tok.paddle(t) for t in toks[:, 0].numpy()]
        ok = total = 0
        for k in range(STEPS - 1):
            a = torch.randint(0, 3, (n,), generator=torch.Generator().manual_seed(k))
            _, _, _, frame = env.step(a, decode=False)
            now = [tok.paddle(t) for t in frame.numpy()]
            for i in range(n):
                if prev[i] is not None and k < steps_left[i]:
                    total += 1
                    ok += now[i] == int(np.clip(prev[i] + int(a[i]) - 1, 0, GRID - 1))
            prev = now
        return ok / max(total, 1)

    t0 = time.time()
    for u in range(1, updates + 1):
        wm.train()
        loss, parts = wm.compute_loss(*segments(batch))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(wm.parameters(), 10.0)
        opt.step()
        if u % 250 == 0:
            wm.eval()
            tf, tf_moved = teacher_forced()
            print(json.dumps({"updates": u, "obs_loss": round(parts["obs"], 4), "tf_bottom": round(tf, 3),
                              "tf_bottom_moved": round(tf_moved, 3),
                              "imag_follow": round(imagination_follows(), 3), "s": round(time.time() - t0)}),
                  flush=True)


if __name__ == "__main__":
    main()
