"""Does the tiny IRIS tokenizer give every catch block content its own token?

Trains the tiny tokenizer alone on random-play catch frames and, every 50 steps, encodes all 448
catch states and compares the tokens with the exact block contents (``catch_world_model.py``): a
collision is a token shared by two contents. Keys of the IRIS config can be set, e.g.
``tokenizer.commitment_beta=0.25``.

    python plugins/wmbench-iris/diagnostics/catch_tokenizer.py steps=500 batch=32 seed=1

Measured 2026-12-02 (preset, 400-500 steps): 1 collision (seed 0), 2 (seed 1); the merged contents
are "paddle" and "ball one row above + paddle" in one block: the frame that decides the reward.
"""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import torch
from catch_world_model import GRID, STEPS, ExactTokens, grid_of, parse_args
from wmbench_iris.configs import PRESETS, IrisConfig
from wmbench_iris.tokenizer import Tokenizer
from wmbench_iris.trainer import tokenizer_update

from wmbench_core.envs.catch import CatchEnv
from wmbench_core.learning.config import resolve_config


def main() -> None:
    defaults = {"steps": 500, "batch": 32, "seed": 0, "episodes": 100}
    args, sets = parse_args(defaults, config_keys=True)
    torch.manual_seed(args["seed"])
    torch.set_num_threads(1)
    rng = np.random.default_rng(args["seed"])
    cfg = resolve_config(IrisConfig, PRESETS, "tiny", sets)
    tok, env = ExactTokens(), CatchEnv()

    def frame(row: int, col: int, paddle: int) -> np.ndarray:
        env._ball_row, env._ball_col, env._paddle = row, col, paddle
        return env._obs()

    frames = []
    for _ in range(args["episodes"]):
        col, pad = int(rng.integers(GRID)), GRID // 2
        for row in range(STEPS):
            frames.append(frame(row, col, pad))
            pad = int(np.clip(pad + rng.integers(3) - 1, 0, GRID - 1))
    frames = np.stack(frames)
    states = list(itertools.product(range(STEPS), range(GRID), range(GRID)))
    every = torch.as_tensor(np.stack([frame(*s) for s in states])).permute(0, 3, 1, 2).float() / 255
    exact = np.array([tok(grid_of(*s)) for s in states]).ravel()
    tokenizer = Tokenizer(cfg.tokenizer)
    opt = torch.optim.Adam(tokenizer.parameters(), lr=cfg.training.tokenizer_lr)

    def merged() -> list[list[int]]:
        tokenizer.eval()
        got = tokenizer.tokenize(every).numpy().ravel()
        contents: dict[int, set[int]] = {}
        for e, g in set(zip(exact.tolist(), got.tolist())):
            contents.setdefault(g, set()).add(e)
        return [sorted(c) for c in contents.values() if len(c) > 1]

    t0 = time.time()
    for step in range(1, args["steps"] + 1):
        x = torch.as_tensor(frames[rng.integers(len(frames), size=args["batch"])])
        out = tokenizer_update(tokenizer, opt, x.permute(0, 3, 1, 2).float() / 255, cfg.training.max_grad_norm)
        if step % 50 == 0:
            groups = merged()
            print(json.dumps({"step": step, "l2": round(out.get("tokenizer/l2", 0.0), 5),
                              "collisions": sum(len(g) - 1 for g in groups), "merged_contents": groups,
                              "s": round(time.time() - t0)}), flush=True)


if __name__ == "__main__":
    main()
