"""The core's own plugin: the random agent, the built-in metrics and exporters.

Registered through the same entry-point group and hooks as any third-party plugin.
"""

from __future__ import annotations

from wmbench_core.hookspecs import hookimpl
from wmbench_core.specs import AgentSpec, ExporterSpec, MetricSpec


@hookimpl
def wmbench_agents() -> list[AgentSpec]:
    return [
        AgentSpec(
            name="random",
            factory="wmbench_core.agents.random_agent:RandomAgent",
            summary="Uniform-random policy (the 0 of human-normalised scores)",
            presets={"default": "no parameters"},
            paper="Bellemare et al., The Arcade Learning Environment, JAIR 2013",
        )
    ]


@hookimpl
def wmbench_metrics() -> list[MetricSpec]:
    from wmbench_core.metrics.builtin import BUILTIN_METRICS

    return list(BUILTIN_METRICS)


@hookimpl
def wmbench_exporters() -> list[ExporterSpec]:
    from wmbench_core.exporters import BUILTIN_EXPORTERS

    return list(BUILTIN_EXPORTERS)
