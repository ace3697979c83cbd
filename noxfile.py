"""Development sessions: ``nox -s tests`` (fast suite), ``slow`` (Atari smoke runs and the learning
tests that pass: CI runs it), ``long`` (passing learning tests too long for CI), ``learning``
(learning tests not yet passing), ``lint``,
``demo`` (the main job), ``plugin-isolation``, ``bench``.

Torch: a bare ``torch`` requirement pulls a multi-GB CUDA build from PyPI. The sessions install
``WMBENCH_TORCH`` first (default ``torch==2.13.0``, the CPU build this project is tested with);
on a GPU machine set e.g. ``WMBENCH_TORCH=torch`` to keep your own.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
TORCH = os.environ.get("WMBENCH_TORCH", "torch==2.13.0")
PLUGINS = [p for p in sorted((ROOT / "plugins").glob("wmbench-*")) if (p / "pyproject.toml").is_file()]
EXAMPLE_PLUGIN = ROOT / "examples" / "wmbench-example-plugin"
TEST_PATHS = ["tests", *[str(p / "tests") for p in PLUGINS if (p / "tests").is_dir()]]


def install_all(session: nox.Session, extras: str = "dev,plots,ray") -> None:
    session.install(TORCH)
    session.install("-e", f".[{extras}]")
    for plugin in PLUGINS:
        session.install("-e", str(plugin))


@nox.session
def tests(session: nox.Session) -> None:
    """The fast test suite (core + every plugin), a few minutes on 2 CPU cores."""
    install_all(session)
    session.run("pytest", "-q", "-m", "not slow", *TEST_PATHS, *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """Slow tests CI runs: each agent's paper-size preset end to end on Atari through the CLI, and
    each passing learning test (a tiny preset beats the random agent on catch) except the ``long``
    ones. The tests run two at a time, longest first (``@pytest.mark.slow(minutes=...)``, ordered by
    conftest.py): on the slower 2-core machines ~90 min of tests in all (DreamerV3 learning ~30
    min, IRIS ~20, DreamerV2 two seeds ~11 each, DIAMOND two seeds ~17 each, the Atari smoke runs
    ~5): 54 min on a busy host (2026-12-03); on an idle AVX-512 EPYC 22 min before DreamerV3's
    budget went from 4,000 to 6,000 env steps (2026-12-08)."""
    install_all(session)
    # two workers (pytest-xdist): each learning test trains on one torch thread, so two run side by
    # side on a 2-core machine; WMBENCH_SLOW_WORKERS=0 runs them in this process
    workers = os.environ.get("WMBENCH_SLOW_WORKERS", "2")
    # worksteal: an idle worker takes the other's pending tests (the learning tests run 5-40 min)
    session.run("pytest", "-q", "-n", workers, "--dist", "worksteal",
                "-m", "slow and not learning and not long", "--durations=0", *TEST_PATHS, *session.posargs)  # fmt: skip


@nox.session
def long(session: nox.Session) -> None:
    """Learning tests that pass but do not fit in CI's 90 minutes beside the ``slow`` session
    (marker ``long``; CI runs ``slow`` only). DreamerV1's two seeds take ~40 min on one core."""
    install_all(session)
    session.run("pytest", "-q", "-s", "-m", "long", "--durations=0", *TEST_PATHS, *session.posargs)


@nox.session
def learning(session: nox.Session) -> None:
    """Learning tests that do not pass yet (marker ``learning``; see each plugin's README): a tiny
    preset must beat the random agent on catch. Once one passes it loses the marker and CI's
    ``slow`` session runs it."""
    install_all(session)
    # exit code 5 (no test collected) is fine here: every learning test may pass already
    session.run("pytest", "-q", "-s", "-m", "learning", "--durations=0", *TEST_PATHS, *session.posargs,
                success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: train a tiny agent on catch, evaluate it beside the random agent, report."""
    install_all(session, extras="plots")
    out = session.posargs[0] if session.posargs else "results/demo"
    session.run("wmbench", "list-agents")
    # --resume: a second demo into the same dir skips the jobs already finished
    session.run("wmbench", "run", "--agent", "random", "--game", "catch", "--seeds", "0-2",
                "--episodes", "100", "--out-dir", out, "--resume")  # fmt: skip
    agent = os.environ.get("WMBENCH_DEMO_AGENT", "dreamerv3")
    # the tiny preset's own budget (DreamerV3: 6,000 env steps, ~6-15 minutes on 2 cores), so the
    # report shows a learned agent beside the random one
    session.run("wmbench", "run", "--agent", agent, "--preset", "tiny", "--game", "catch",
                "--seeds", "1", "--episodes", "100", "--out-dir", out, "--resume")  # fmt: skip
    # the two agents side by side, with the trained agent's learning curve
    session.run("wmbench", "compare", out, "--scores", "raw", "--out", f"{out}/compare", "--format", "md,png")
    session.log(f"report: {out}/benchmark_results.md; learning curve: {out}/compare/figures/learning_curves.png")


@nox.session(name="plugin-isolation")
def plugin_isolation(session: nox.Session) -> None:
    """Each plugin installs on its own on top of the core, and shows up only when installed."""
    session.install(TORCH)
    session.install("-e", ".")
    session.run("wmbench", "list-agents", "--json")
    for plugin in PLUGINS:
        session.install("-e", str(plugin))
        session.run("wmbench", "plugins")
        session.run("pip", "uninstall", "-y", plugin.name)


@nox.session
def bench(session: nox.Session) -> None:
    """Performance benchmarks (ratios against peers; see benchmarks/README.md)."""
    install_all(session)
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
