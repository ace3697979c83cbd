"""The game registry: the Atari 100k suite, lenient name resolution and the ``catch`` toy env."""

from __future__ import annotations

import difflib
import re

# The 26 games of Atari 100k (Kaiser et al. 2020), in the canonical ALE CamelCase spelling.
ATARI100K_GAMES: tuple[str, ...] = (
    "Alien", "Amidar", "Assault", "Asterix", "BankHeist", "BattleZone", "Boxing", "Breakout",
    "ChopperCommand", "CrazyClimber", "DemonAttack", "Freeway", "Frostbite", "Gopher", "Hero",
    "Jamesbond", "Kangaroo", "Krull", "KungFuMaster", "MsPacman", "Pong", "PrivateEye", "Qbert",
    "RoadRunner", "Seaquest", "UpNDown",
)  # fmt: skip

SUITES: dict[str, tuple[str, ...]] = {"atari100k": ATARI100K_GAMES}

TOY_GAMES: tuple[str, ...] = ("catch",)

# Spellings used by other code bases (DreamerV3's snake_case names).
_ALIASES = {"james_bond": "Jamesbond", "up_n_down": "UpNDown", "kung_fu_master": "KungFuMaster"}


class UnknownGameError(ValueError):
    pass


def _all_atari_games() -> list[str]:
    try:
        import ale_py.roms as roms

        # ale-py names ROMs in snake_case ("ms_pacman"); turn them into CamelCase ids.
        names = [_camel(n) for n in roms.get_all_rom_ids()]
    except Exception:  # noqa: BLE001 - fall back to the suite alone
        names = []
    return sorted(set(names) | set(ATARI100K_GAMES))


def _camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_game(name: str) -> str:
    """``ALE/Pong-v5``, ``Pong-v5``, ``PongNoFrameskip-v4``, ``Pong``, ``pong`` -> ``Pong``;
    ``catch`` -> ``catch``. Unknown names raise :class:`UnknownGameError` with suggestions."""
    raw = name.strip()
    stem = raw.split("/")[-1]
    stem = re.sub(r"-v\d+$", "", stem)
    stem = re.sub(r"NoFrameskip$|Deterministic$", "", stem)
    if stem.lower() in TOY_GAMES:
        return stem.lower()
    if stem.lower() in _ALIASES:
        return _ALIASES[stem.lower()]
    games = _all_atari_games()
    by_norm = {_norm(g): g for g in games}
    hit = by_norm.get(_norm(stem))
    if hit:
        return hit
    candidates = list(TOY_GAMES) + games
    close = difflib.get_close_matches(stem, candidates, n=3, cutoff=0.6) or difflib.get_close_matches(
        _norm(stem), list(by_norm), n=3, cutoff=0.6
    )
    close = [by_norm.get(c, c) for c in close]
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise UnknownGameError(
        f"unknown game {name!r}{hint} (valid: an ALE game such as Pong or ALE/Pong-v5, "
        f"a suite member of atari100k, or catch)"
    )


def ale_rom_id(game: str) -> str:
    """``MsPacman`` -> ``ms_pacman`` (ale-py's ROM id)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()
