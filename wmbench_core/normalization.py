"""Human-normalised scores (HNS) for Atari 100k, and the game-name alias map.

``HNS = (score - random) / (human - random)`` per game: 0 is a uniform-random policy, 1 is the
human reference. The random and human tables are the ones every Atari 100k paper since SimPLe
uses (identical in the IRIS and DIAMOND repositories' ``results/data/{RANDOM,HUMAN}.json``, the
rliable colab and DreamerV3's ``baselines.yaml``; shared/research/benchmarking.md §2.1). They
are *not* the Mnih et al. 2015 table: results record :data:`TABLE_NAME` so that the normaliser
used is never ambiguous.

The toy game ``catch`` has its own reference points (``TOY_TABLE``): "random" is the measured
uniform-random return and "human" the optimal return, so that toy runs flow through the same
statistics as Atari runs. Game names are matched leniently (:func:`canonical_game`): ALE ids
(``ALE/MsPacman-v5``, ``MsPacmanNoFrameskip-v4``), DreamerV3 tasks (``atari_ms_pacman``) and case
or punctuation variants all map to the CamelCase keys below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

TABLE_NAME = "atari100k-standard (IRIS/DIAMOND results/data RANDOM.json + HUMAN.json)"

# Scores of a uniform-random policy (Atari 100k convention; IRIS repo results/data/RANDOM.json).
RANDOM_SCORES: dict[str, float] = {
    "Alien": 227.8, "Amidar": 5.8, "Assault": 222.4, "Asterix": 210.0, "BankHeist": 14.2,
    "BattleZone": 2360.0, "Boxing": 0.1, "Breakout": 1.7, "ChopperCommand": 811.0,
    "CrazyClimber": 10780.5, "DemonAttack": 152.1, "Freeway": 0.0, "Frostbite": 65.2,
    "Gopher": 257.6, "Hero": 1027.0, "Jamesbond": 29.0, "Kangaroo": 52.0, "Krull": 1598.0,
    "KungFuMaster": 258.5, "MsPacman": 307.3, "Pong": -20.7, "PrivateEye": 24.9, "Qbert": 163.9,
    "RoadRunner": 11.5, "Seaquest": 68.4, "UpNDown": 533.4,
}  # fmt: skip

# Human reference scores (IRIS repo results/data/HUMAN.json).
HUMAN_SCORES: dict[str, float] = {
    "Alien": 7127.7, "Amidar": 1719.5, "Assault": 742.0, "Asterix": 8503.3, "BankHeist": 753.1,
    "BattleZone": 37187.5, "Boxing": 12.1, "Breakout": 30.5, "ChopperCommand": 7387.8,
    "CrazyClimber": 35829.4, "DemonAttack": 1971.0, "Freeway": 29.6, "Frostbite": 4334.7,
    "Gopher": 2412.5, "Hero": 30826.4, "Jamesbond": 302.8, "Kangaroo": 3035.0, "Krull": 2665.5,
    "KungFuMaster": 22736.3, "MsPacman": 6951.6, "Pong": 14.6, "PrivateEye": 69571.3,
    "Qbert": 13455.0, "RoadRunner": 7845.0, "Seaquest": 42054.7, "UpNDown": 11693.2,
}  # fmt: skip

# catch (wmbench_core/envs/catch.py): random policy measured at -0.7475 over 4000 episodes;
# the "human" point is the optimal return +1, so HNS 1 means solved.
TOY_TABLE: dict[str, tuple[float, float]] = {"catch": (-0.7475, 1.0)}

ATARI100K_GAMES: tuple[str, ...] = tuple(sorted(HUMAN_SCORES))

# Other spellings seen in published data and code bases -> canonical key.
GAME_ALIASES: dict[str, str] = {
    "james_bond": "Jamesbond",
    "jamesbond": "Jamesbond",
    "up_n_down": "UpNDown",
    "upndown": "UpNDown",
    "kung_fu_master": "KungFuMaster",
    "ms_pacman": "MsPacman",
    "mspacman": "MsPacman",
    "private_eye": "PrivateEye",
    "crazy_climber": "CrazyClimber",
    "road_runner": "RoadRunner",
    "chopper_command": "ChopperCommand",
    "demon_attack": "DemonAttack",
    "bank_heist": "BankHeist",
    "battle_zone": "BattleZone",
}


class UnknownGameForNormalization(ValueError):
    """A game with no random/human reference scores."""


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY: dict[str, str] = {_key(g): g for g in (*ATARI100K_GAMES, *TOY_TABLE)}
_BY_KEY.update({_key(a): g for a, g in GAME_ALIASES.items()})


def canonical_game(name: str) -> str | None:
    """The canonical table key of ``name`` (``ALE/Pong-v5``, ``atari_pong``, ``pong`` -> ``Pong``),
    or None when the game has no reference scores."""
    stem = name.strip().split("/")[-1]
    stem = re.sub(r"-v\d+$", "", stem)
    stem = re.sub(r"(NoFrameskip|Deterministic)$", "", stem)
    stem = re.sub(r"^atari_", "", stem)
    return _BY_KEY.get(_key(stem))


def has_reference(game: str) -> bool:
    return canonical_game(game) is not None


def reference_scores(game: str) -> tuple[float, float]:
    """``(random, human)`` of a game; raises :class:`UnknownGameForNormalization`."""
    key = canonical_game(game)
    if key is None:
        raise UnknownGameForNormalization(
            f"no human/random reference scores for game {game!r}: human-normalised scores exist for "
            f"the 26 Atari 100k games and catch (use --scores raw for other games)"
        )
    if key in TOY_TABLE:
        return TOY_TABLE[key]
    return RANDOM_SCORES[key], HUMAN_SCORES[key]


def human_normalized_score(game: str, score: float | Sequence[float] | np.ndarray) -> np.ndarray | float:
    """``(score - random) / (human - random)`` for ``game`` (scalar in, scalar out)."""
    random, human = reference_scores(game)
    out = (np.asarray(score, dtype=np.float64) - random) / (human - random)
    return float(out) if out.ndim == 0 else out


def denormalize(game: str, hns: float | np.ndarray) -> np.ndarray | float:
    """The raw score whose HNS is ``hns`` (inverse of :func:`human_normalized_score`)."""
    random, human = reference_scores(game)
    out = np.asarray(hns, dtype=np.float64) * (human - random) + random
    return float(out) if out.ndim == 0 else out


def normalize_table(scores: Mapping[str, Iterable[float]]) -> dict[str, list[float]]:
    """``{game: [raw run scores]}`` -> ``{canonical game: [HNS]}``."""
    out: dict[str, list[float]] = {}
    for game, values in scores.items():
        key = canonical_game(game) or game
        out[key] = [float(v) for v in np.atleast_1d(human_normalized_score(game, list(values)))]
    return out


def score_matrix(table: Mapping[str, Sequence[float]], games: Sequence[str]) -> np.ndarray:
    """``(runs, games)`` matrix from ``{game: [run scores]}``; every game needs the same run count."""
    counts = {g: len(table[g]) for g in games}
    if len(set(counts.values())) > 1:
        raise ValueError(f"unequal numbers of runs per game: {counts}")
    return np.array([table[g] for g in games], dtype=np.float64).T
