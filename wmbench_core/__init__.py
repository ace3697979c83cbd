"""wmbench: benchmark world-model RL agents on Atari 100k under one protocol.

The plugin contract lives in :mod:`wmbench_core.hookspecs` (hooks) and
:mod:`wmbench_core.agent` (the agent object). Importing this package is cheap: it does not
import torch, gymnasium or any agent.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

from wmbench_core.hookspecs import hookimpl
from wmbench_core.specs import AgentSpec, ExporterSpec, MetricSpec

try:
    __version__ = _metadata.version("wmbench")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "Agent",
    "AgentSpec",
    "ExporterSpec",
    "MetricSpec",
    "Progress",
    "hookimpl",
    "__version__",
]

if TYPE_CHECKING:
    from wmbench_core.agent import Agent, Progress


def __getattr__(name: str) -> Any:
    # Agent pulls in gymnasium (through envs); keep `import wmbench_core` light for listings.
    if name in ("Agent", "Progress", "ConfigError", "CheckpointError"):
        from wmbench_core import agent

        return getattr(agent, name)
    raise AttributeError(f"module 'wmbench_core' has no attribute {name!r}")
