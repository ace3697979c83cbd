"""What users type as values: ``--set`` types (shared by every agent's config), ``--seeds`` limits,
empty comma lists. Each bad value is one line and exit 2, before any work."""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Optional

import pytest
from click.testing import CliRunner

from wmbench_core.agent import ConfigError
from wmbench_core.cli import cli
from wmbench_core.learning.config import CLOSEST_KEYS, require_at_least, resolve_config
from wmbench_core.parsing import MAX_SEEDS, SEED_LIMIT, UsageError, parse_list, parse_seeds


@dataclass
class Inner:
    channels: tuple[int, ...] = (8, 8)
    weights: tuple[float, ...] = (0.5, 0.5)


@dataclass
class Cfg:
    deter: int = 512
    lr: float = 1e-4
    norm: bool = True
    act: str = "silu"
    every: int | None = None
    limit: Optional[int] = 3  # noqa: UP045 -- the typing spelling must work too
    inner: Inner = field(default_factory=Inner)


def resolve(**overrides):
    return resolve_config(Cfg, {"default": {}}, None, {k.replace("__", "."): v for k, v in overrides.items()})


@pytest.mark.parametrize("key,value,message", [
    ("deter", True, "config key 'deter' expects int, got bool True"),
    ("deter", False, "config key 'deter' expects int, got bool False"),
    ("deter", None, "config key 'deter' expects int, got None"),
    ("lr", True, "config key 'lr' expects float, got bool True"),
    ("lr", None, "config key 'lr' expects float, got None"),
    ("act", None, "config key 'act' expects str, got None"),
    ("norm", None, "config key 'norm' expects true/false, got None"),
    ("every", True, "config key 'every' expects int | None, got bool True"),
    ("limit", True, "config key 'limit' expects Optional[int], got bool True"),
    ("inner__channels", [8, True], "config key 'inner.channels' expects tuple[int, ...], got list [8, True]"),
    ("inner__channels", 8, "config key 'inner.channels' expects tuple[int, ...], got int 8"),
    ("inner", 3, "config key 'inner' is a section; set one of its keys, e.g. inner.channels"),
])  # fmt: skip
def test_set_value_of_the_wrong_type_is_refused(key, value, message):
    with pytest.raises(ConfigError) as err:
        resolve(**{key: value})
    assert str(err.value) == message


def test_set_values_the_declared_type_allows():
    c = resolve(lr=1, every=None, limit=None, norm="false", inner__channels=[4, 2], inner__weights=[0, 1])
    assert (c.lr, c.every, c.limit, c.norm) == (1.0, None, None, False) and isinstance(c.lr, float)
    assert c.inner.channels == (4, 2) and c.inner.weights == (0.0, 1.0) and isinstance(c.inner.weights[0], float)
    assert resolve(every=5).every == 5 and resolve(limit=7).limit == 7


def test_unknown_key_lists_few_keys_and_keeps_did_you_mean():
    big = make_dataclass("Big", [(f"key_{i:02d}", int, 0) for i in range(80)] + [("deter", int, 1)])
    with pytest.raises(ConfigError) as err:
        resolve_config(big, {"default": {}}, None, {"dete": 3})
    msg = str(err.value)
    assert "(did you mean deter?)" in msg and "81 valid keys" in msg and "wmbench describe --agent" in msg
    assert msg.count("key_") <= CLOSEST_KEYS and len(msg) < 300, msg
    with pytest.raises(ConfigError) as err:
        resolve(inner__chanels=[1])
    # a short list is given in full, with the section's prefix
    assert "'inner.chanels' (did you mean inner.channels?); valid: inner.channels, inner.weights" in str(err.value)


def test_agent_configs_refuse_bool_and_none_for_numbers():
    dreamer = pytest.importorskip("wmbench_dreamer.configs")
    iris = pytest.importorskip("wmbench_iris.configs")
    diamond = pytest.importorskip("wmbench_diamond.configs")
    with pytest.raises(ConfigError, match="'deter' expects int, got bool True"):
        resolve_config(dreamer.DreamerConfig, dreamer.PRESETS[3], "tiny", {"deter": True})
    with pytest.raises(ConfigError, match="'deter' expects int, got None"):
        resolve_config(dreamer.DreamerConfig, dreamer.PRESETS[3], "tiny", {"deter": None})
    with pytest.raises(ConfigError, match="'tokenizer.vocab_size' expects int, got bool True"):
        resolve_config(iris.IrisConfig, iris.PRESETS, "tiny", {"tokenizer.vocab_size": True})
    cfg, _ = diamond.make_config("tiny", {"training.updates_per_epoch_actor_critic": None})
    assert cfg.training.updates_per_epoch_actor_critic is None  # declared int | None
    # every shipped preset still passes the stricter checks
    for version, cls in dreamer.CONFIG_CLASSES.items():
        for name in dreamer.PRESETS[version]:
            resolve_config(cls, dreamer.PRESETS[version], name)
    for name in iris.PRESETS:
        resolve_config(iris.IrisConfig, iris.PRESETS, name)
    for name in diamond.PRESETS:
        diamond.make_config(name, game="Freeway")


@pytest.mark.parametrize("text,message", [
    ("18446744073709551616", f"gives more than {MAX_SEEDS} seeds"),
    (str(MAX_SEEDS + 1), f"gives more than {MAX_SEEDS} seeds"),
    ("99999999999999999999,0", f"seed 99999999999999999999 is too large; seeds must be in [0, {SEED_LIMIT})"),
    (f"0,{SEED_LIMIT}", f"seed {SEED_LIMIT} is too large"),
    ("0-18446744073709551616", "is too large"),
    (f"5,0-{MAX_SEEDS - 1}", f"gives more than {MAX_SEEDS} seeds"),
])  # fmt: skip
def test_seeds_out_of_range(text, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace(")", r"\)")):
        parse_seeds(text)


def test_seeds_at_the_limits_are_accepted():
    assert parse_seeds(str(MAX_SEEDS)) == list(range(MAX_SEEDS))
    assert parse_seeds(f"0,{SEED_LIMIT - 1}") == [0, SEED_LIMIT - 1]
    assert parse_seeds("3,7-9") == [3, 7, 8, 9]


@pytest.mark.parametrize("text", ["", ",", ",,", " , "])
def test_empty_list_is_an_error(text):
    with pytest.raises(UsageError, match="is an empty list; give one or more comma-separated names"):
        parse_list(text, flag="--games")
    assert parse_list(None) == [] and parse_list(" a, ,b ") == ["a", "b"]


def _fails_with_one_line(args: list[str], message: str) -> None:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr


@pytest.mark.parametrize("args,message", [
    (["run", "--agent", "random", "--game", "catch", "--seeds", "18446744073709551616"], "gives more than"),
    (["run", "--agent", "random", "--game", "catch", "--seeds", "99999999999999999999,0"], "is too large"),
    (["run", "--agent", "random", "--game", "catch", "--format", ","], "is an empty list"),
    (["suite", "catch", "--agent", "random", "--games", ",,"], "is an empty list"),
    (["suite", "catch", "--agent", "random", "--format", ","], "is an empty list"),
])  # fmt: skip
def test_cli_refuses_before_writing(tmp_path, args, message):
    _fails_with_one_line([*args, "--out-dir", str(tmp_path / "o")], message)
    assert not (tmp_path / "o").exists()


def test_report_refuses_an_empty_format_list_and_keeps_the_run_dir(tmp_path):
    out = tmp_path / "o"
    CliRunner().invoke(cli, ["run", "--agent", "random", "--game", "catch", "--episodes", "2", "--out-dir", str(out)])
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    _fails_with_one_line(["report", str(out), "--format", ","], "is an empty list")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("agent,setting,message", [
    ("dreamerv3", "deter=true", "config key 'deter' expects int, got bool True"),
    ("dreamerv3", "deter=None", "config key 'deter' expects int, got None"),
    ("iris", "tokenizer.vocab_size=true", "config key 'tokenizer.vocab_size' expects int, got bool True"),
])  # fmt: skip
def test_describe_and_run_refuse_bool_for_int(tmp_path, agent, setting, message):
    from wmbench_core.plugins import get_registry

    if agent not in get_registry().agents:
        pytest.skip(f"{agent} plugin not installed")
    args = ["--agent", agent, "--preset", "tiny", "--game", "catch", "--set", setting]
    _fails_with_one_line(["describe", *args], message)
    _fails_with_one_line(["run", *args, "--out-dir", str(tmp_path / "o")], f"agent {agent}: {message}")
    assert not (tmp_path / "o").exists()  # no failed record: refused before any job


def test_numbers_keep_the_sign_of_their_default():
    for overrides, message in (({"deter": -1}, "config key 'deter' must be >= 0 (default 512), got -1"),
                               ({"lr": -1e-4}, "config key 'lr' must be >= 0"),
                               ({"every": -2}, "config key 'every' must be >= 0 (default None)"),
                               ({"inner.channels": (8, -1)}, "config key 'inner.channels' must be >= 0")):
        with pytest.raises(ConfigError) as err:
            resolve_config(Cfg, {"default": {}}, None, overrides)
        assert str(err.value).startswith(message)
    assert resolve(deter=0, every=0).deter == 0  # zero is a sign-free bound: agents check >= 1 themselves
    signed = make_dataclass("Signed", [("low", float, field(default=-20.0))])
    assert resolve_config(signed, {"default": {}}, None, {"low": -3.0}).low == -3.0  # a negative default


def test_require_at_least_names_the_dotted_key():
    section = make_dataclass("Section", [("batch", int, field(default=0))])
    outer = make_dataclass("Outer", [("deter", int, field(default=4)),
                                     ("training", section, field(default_factory=section))])
    require_at_least(outer(), ("deter", "training.batch"), minimum=0)
    with pytest.raises(ConfigError, match="config key 'training.batch' must be >= 1, got 0"):
        require_at_least(outer(), ("deter", "training.batch"))


@pytest.mark.parametrize("agent,setting,message", [
    ("dreamerv3", "version=2", "config key 'version' is fixed by the agent (dreamerv3: 3)"),
    ("dreamerv3", "twohot_bins=1", "'twohot_bins' >= 2"),
    ("iris", "tokenizer.vocab_size=0", "config key 'tokenizer.vocab_size' must be >= 1, got 0"),
    ("iris", "training.collect_epsilon=-0.5", "config key 'training.collect_epsilon' must be >= 0"),
    ("diamond", "training.env_steps_per_epoch=0", "config key 'training.env_steps_per_epoch' must be >= 1"),
    ("diamond", "denoiser.cond_channels=3", "'denoiser.cond_channels' must be even and >= 2, got 3"),
    ("diamond", "image_size=12", "must be divisible by 8"),
])  # fmt: skip
def test_values_an_agent_cannot_work_with_are_refused_in_one_line(tmp_path, agent, setting, message):
    """Sizes of 0, negative rates, schedules that never advance (0 env steps per epoch hung the
    DIAMOND trainer) are refused before any work, not met by a traceback or a hang."""
    from wmbench_core.plugins import get_registry

    if agent not in get_registry().agents:
        pytest.skip(f"{agent} plugin not installed")
    preset = "atari100k" if setting.startswith("image_size") else "tiny"
    args = ["--agent", agent, "--preset", preset, "--game", "catch", "--set", setting]
    _fails_with_one_line(["describe", *args], message)
    _fails_with_one_line(["run", *args, "--out-dir", str(tmp_path / "o")], message)
    assert not (tmp_path / "o").exists()


def test_an_agent_that_cannot_be_built_with_the_overrides_is_a_one_line_error():
    """A value no validation caught, that makes the agent's constructor fail (torch's "negative
    dimension"), names the overrides; without overrides the same failure is a bug and propagates."""
    from wmbench_core.cli.validation import build_agent

    def factory(**kwargs):
        raise RuntimeError("Trying to create tensor with negative dimension -1: [-1, 16]\n(more)")

    class Registry:
        def agent(self, name):
            return type("Spec", (), {"name": name, "load_factory": staticmethod(lambda: factory)})(), None

    with pytest.raises(ConfigError) as err:
        build_agent(Registry(), "fake", None, None, {"size": 3})
    assert str(err.value).startswith("agent fake cannot be built with --set size=3: RuntimeError: Trying to "
                                     "create tensor with negative dimension -1: [-1, 16] (`wmbench describe")
    with pytest.raises(RuntimeError):
        build_agent(Registry(), "fake", None, None, {})
