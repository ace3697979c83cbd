"""Published Atari 100k results of reference agents, shipped as package data.

Each baseline is the per-run (or per-game) final score table its authors released, in the
de-facto interchange shape ``{Game: [score per run]}`` (raw game scores), with its citation and
where the file came from (``data/`` and ``PROVENANCE.md`` next to this module). Two files need
a reduction rule, applied here and recorded on the :class:`Baseline`:

* ``CURL_10_evals.json`` is already human-normalised (records ``{game, seed, HNS, Max HNS}``):
  the final-evaluation ``HNS`` of each seed is used (not the max over training), and raw scores
  are recovered through the normaliser's inverse.
* ``DreamerV3-curves.json.gz`` holds training curves of the 2024 DreamerV3 code: a run's score
  is the mean of its training-episode returns ending between 390k and 400k frames (the
  authors' convention), or its last episode when none ends in that window (6 of 130 runs).
  These runs do not reproduce the 2023 paper, hence the label "DreamerV3 (2024 code)".

``reported`` holds the aggregates the paper (or the rliable paper, for SPR and DrQ(eps)) states,
for a reported-vs-recomputed check.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from wmbench_core.normalization import ATARI100K_GAMES, canonical_game, denormalize, human_normalized_score

DREAMERV3_WINDOW = (390_000, 400_000)  # frames: the 100k-step score window of danijar/dreamerv3


class UnknownBaselineError(ValueError):
    pass


@dataclass(frozen=True)
class BaselineInfo:
    name: str  # what users type: --baselines iris,diamond
    label: str  # what tables and figures show
    file: str  # under wmbench_core/baselines/data/
    citation: str
    source: str  # repository and path the file was released in
    kind: str = "per-run"  # "per-run" or "per-game" (one number per game: no run-level spread)
    reduction: str = "final score of each run, as released"
    protocol: str = ""  # environment protocol notes (deviations from the IRIS/DIAMOND protocol)
    reported: Mapping[str, float] = field(default_factory=dict)
    reported_source: str = ""
    aliases: tuple[str, ...] = ()


@dataclass
class Baseline:
    info: BaselineInfo
    raw: dict[str, list[float]]  # canonical game -> raw score per run

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def label(self) -> str:
        return self.info.label

    @property
    def games(self) -> list[str]:
        return sorted(self.raw)

    @property
    def num_runs(self) -> int:
        return min(len(v) for v in self.raw.values())

    def hns(self) -> dict[str, list[float]]:
        return {g: [float(x) for x in np.atleast_1d(human_normalized_score(g, v))] for g, v in self.raw.items()}

    def hns_matrix(self, games: list[str] | None = None) -> np.ndarray:
        """``(runs, games)`` human-normalised scores over ``games`` (default: all, sorted)."""
        games = games or self.games
        table = self.hns()
        return np.array([table[g] for g in games], dtype=np.float64).T


_STANDARD_PROTOCOL = "no sticky actions, minimal action set, evaluation to game over"

BASELINES: tuple[BaselineInfo, ...] = (
    BaselineInfo(
        "simple", "SimPLe", "SimPLe.json",
        "Kaiser et al., Model-Based Reinforcement Learning for Atari, ICLR 2020",
        "eloialonso/iris results/data/SimPLe.json",
        reported={"mean": 0.332, "median": 0.134, "iqm": 0.130},
        reported_source="IRIS paper (Micheli et al. 2023) / rliable (Agarwal et al. 2021)",
    ),
    BaselineInfo(
        "spr", "SPR", "SPR.json",
        "Schwarzer et al., Data-Efficient Reinforcement Learning with Self-Predictive "
        "Representations, ICLR 2021",
        "eloialonso/iris results/data/SPR.json (100 runs per game, rliable's data)",
        reported={"mean": 0.616, "median": 0.396},
        reported_source="rliable colab (Agarwal et al. 2021), 100 runs",
    ),
    BaselineInfo(
        "drq_eps", "DrQ(eps)", "DrQeps.json",
        "Kostrikov, Yarats and Fergus, Image Augmentation Is All You Need, ICLR 2021; eps-greedy "
        "evaluation variant of Agarwal et al., Deep RL at the Edge of the Statistical Precipice, "
        "NeurIPS 2021",
        "eloialonso/iris results/data/DrQ(eps).json (100 runs per game, rliable's data)",
        reported={"mean": 0.465, "median": 0.313},
        reported_source="rliable colab (Agarwal et al. 2021), 100 runs",
        aliases=("drqeps", "drq(eps)", "drq-eps", "drq_epsilon"),
    ),
    BaselineInfo(
        "curl", "CURL", "CURL_10_evals.json",
        "Srinivas, Laskin and Abbeel, CURL: Contrastive Unsupervised Representations for "
        "Reinforcement Learning, ICML 2020",
        "eloialonso/iris results/data/CURL_10_evals.json (100 runs per game, stored as HNS)",
        reduction="final-evaluation 'HNS' field of each seed (not 'Max HNS'); raw = inverse HNS",
        reported={"mean": 0.261, "median": 0.092},
        reported_source="rliable colab (Agarwal et al. 2021), 100 final runs",
    ),
    BaselineInfo(
        "twm", "TWM", "TWM.json",
        "Robine et al., Transformer-based World Models Are Happy With 100k Interactions, ICLR 2023",
        "jrobine/twm results/scores.json",
        reported={"mean": 0.956, "median": 0.505, "iqm": 0.459},
        reported_source="TWM paper (Robine et al. 2023)",
    ),
    BaselineInfo(
        "iris", "IRIS", "IRIS.json",
        "Micheli, Alonso and Fleuret, Transformers are Sample-Efficient World Models, ICLR 2023",
        "eloialonso/iris results/data/IRIS.json",
        reported={"mean": 1.046, "median": 0.289, "iqm": 0.501, "optimality_gap": 0.512},
        reported_source="IRIS paper (Micheli et al. 2023)",
        protocol=_STANDARD_PROTOCOL + ", 100 test episodes",
    ),
    BaselineInfo(
        "dreamerv3", "DreamerV3", "DreamerV3.json",
        "Hafner et al., Mastering Diverse Domains through World Models, arXiv:2301.04104 (2023)",
        "DIAMOND paper (Alonso et al. 2024) Table 1: per-game means over 5 seeds",
        kind="per-game",
        reduction="per-game mean over 5 seeds as tabulated (no run-level data)",
        reported={"mean": 1.097, "iqm": 0.497},
        reported_source="DIAMOND paper (Alonso et al. 2024)",
        protocol=_STANDARD_PROTOCOL,
    ),
    BaselineInfo(
        "dreamerv3_2024", "DreamerV3 (2024 code)", "DreamerV3-curves.json.gz",
        "Hafner et al., Mastering Diverse Domains through World Models, Nature 2025; runs of the "
        "2024 code release",
        "danijar/dreamerv3 scores/atari100k-dreamerv3.json.gz (training curves, 5 seeds)",
        reduction=(
            "mean of training-episode returns ending at 390k-400k frames; a run with no episode "
            "ending in that window uses its last episode"
        ),
        protocol=_STANDARD_PROTOCOL + "; scores are training-episode returns",
        aliases=("dreamerv3-2024", "dreamerv3_code"),
    ),
    BaselineInfo(
        "storm", "STORM", "STORM.json",
        "Zhang et al., STORM: Efficient Stochastic Transformer based World Models for "
        "Reinforcement Learning, NeurIPS 2023",
        "weipu-zhang/STORM results/storm.json",
        reported={"mean": 1.266, "median": 0.584, "iqm": 0.636},
        reported_source="STORM paper (Zhang et al. 2023)",
        protocol="ALE v5 default sticky actions 0.25 (from the code), life-loss info in training",
    ),
    BaselineInfo(
        "diamond", "DIAMOND", "DIAMOND.json",
        "Alonso et al., Diffusion for World Modeling: Visual Details Matter in Atari, NeurIPS 2024",
        "eloialonso/diamond results/data/DIAMOND.json",
        reported={"mean": 1.459, "median": 0.373, "iqm": 0.641, "optimality_gap": 0.480},
        reported_source="DIAMOND paper (Alonso et al. 2024)",
        protocol=_STANDARD_PROTOCOL + ", 100 test episodes",
    ),
    BaselineInfo(
        "efficientzero", "EfficientZero", "EfficientZero.json",
        "Ye et al., Mastering Atari Games with Limited Data, NeurIPS 2021",
        "eloialonso/iris results/data/EfficientZero.json",
        kind="per-game",
        reduction="one score per game (the paper's per-game means)",
        aliases=("efficient_zero", "ez"),
    ),
    BaselineInfo(
        "muzero", "MuZero", "MuZero.json",
        "Schrittwieser et al., Mastering Atari, Go, Chess and Shogi by Planning with a Learned "
        "Model, Nature 2020 (Atari 100k numbers as reported by Ye et al. 2021)",
        "eloialonso/iris results/data/MuZero.json",
        kind="per-game",
        reduction="one score per game",
    ),
)  # fmt: skip


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9()]", "", name.lower())


_BY_NAME: dict[str, BaselineInfo] = {}
for _info in BASELINES:
    for _alias in (_info.name, _info.label, *_info.aliases):
        _BY_NAME[_norm(_alias)] = _info


def baseline_names() -> list[str]:
    return [b.name for b in BASELINES]


def get_info(name: str) -> BaselineInfo:
    info = _BY_NAME.get(_norm(name))
    if info is None:
        raise UnknownBaselineError(f"unknown baseline {name!r}; valid: {', '.join(baseline_names())}")
    return info


def _read_data(file: str) -> Any:
    ref = resources.files("wmbench_core.baselines").joinpath("data", file)
    raw = ref.read_bytes()
    if file.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def reduce_dreamerv3_curves(
    curves: list[dict[str, Any]], window: tuple[int, int] = DREAMERV3_WINDOW
) -> dict[str, list[float]]:
    """``{game: [score per seed]}`` from danijar/dreamerv3 training curves (rule in module doc)."""
    lo, hi = window
    by_game: dict[str, dict[int, float]] = {}
    for rec in curves:
        game = canonical_game(rec["task"])
        if game is None:
            raise ValueError(f"unknown DreamerV3 task {rec['task']!r}")
        xs = np.asarray(rec["xs"], dtype=np.float64)
        ys = np.asarray(rec["ys"], dtype=np.float64)
        inside = (xs >= lo) & (xs <= hi)
        if inside.any():
            score = float(ys[inside].mean())
        else:
            before = xs <= hi
            score = float(ys[before][np.argmax(xs[before])]) if before.any() else float(ys[0])
        by_game.setdefault(game, {})[int(rec["seed"])] = score
    return {g: [seeds[s] for s in sorted(seeds)] for g, seeds in sorted(by_game.items())}


def training_curves(name: str) -> dict[str, list[tuple[list[float], list[float]]]] | None:
    """A baseline's released training curves, ``{game: [(agent steps, episode returns) per run]}``
    (None when it released final scores only). Only ``dreamerv3_2024`` has them; its x axis counts
    frames, 4 per agent step (the protocol's frame skip)."""
    info = get_info(name)
    if info.name != "dreamerv3_2024":
        return None
    out: dict[str, list[tuple[list[float], list[float]]]] = {}
    for rec in sorted(_read_data(info.file), key=lambda r: (r["task"], r["seed"])):
        game = canonical_game(rec["task"])
        out.setdefault(game, []).append(([x / 4 for x in rec["xs"]], [float(y) for y in rec["ys"]]))
    return out


def _curl_table(records: list[dict[str, Any]]) -> dict[str, list[float]]:
    by_game: dict[str, list[tuple[float, float]]] = {}
    for rec in records:
        by_game.setdefault(rec["game"], []).append((float(rec["seed"]), float(rec["HNS"])))
    return {g: [float(denormalize(g, h)) for _, h in sorted(rows)] for g, rows in by_game.items()}


@cache
def _load_raw(name: str) -> dict[str, list[float]]:
    info = get_info(name)
    data = _read_data(info.file)
    if info.name == "curl":
        table = _curl_table(data)
    elif info.name == "dreamerv3_2024":
        table = reduce_dreamerv3_curves(data)
    else:
        table = {g: [float(x) for x in v] for g, v in data.items()}
    out = {}
    for game, values in table.items():
        key = canonical_game(game)
        if key is None:
            raise ValueError(f"baseline {info.name}: unknown game {game!r} in {info.file}")
        out[key] = values
    missing = set(ATARI100K_GAMES) - set(out)
    if missing:
        raise ValueError(f"baseline {info.name}: games missing from {info.file}: {sorted(missing)}")
    return out


def load_baseline(name: str) -> Baseline:
    """A shipped baseline by name (case and punctuation insensitive, e.g. ``DrQ(eps)``)."""
    info = get_info(name)
    return Baseline(info, {g: list(v) for g, v in _load_raw(info.name).items()})


def load_baselines(names: list[str]) -> list[Baseline]:
    return [load_baseline(n) for n in names]


def provenance_text() -> str:
    return resources.files("wmbench_core.baselines").joinpath("PROVENANCE.md").read_text()
