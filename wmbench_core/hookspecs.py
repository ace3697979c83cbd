"""The wmbench plugin contract. This module *is* its documentation.

A plugin is any importable module (usually the ``plugin`` module of a pip-installable
distribution) that implements one or more of the hooks below with the ``hookimpl`` marker and
is advertised through an entry point in the ``wmbench`` group::

    # pyproject.toml of your distribution
    [project.entry-points.wmbench]
    myagent = "wmbench_myagent.plugin"

    # wmbench_myagent/plugin.py
    from wmbench_core import AgentSpec, hookimpl

    @hookimpl
    def wmbench_agents():
        return [AgentSpec(name="myagent", factory="wmbench_myagent.agent:MyAgent",
                          summary="My world-model agent", presets={"default": "paper sizes"})]

Rules every hook follows:

* A hook takes no arguments and returns a ``list`` of specs (possibly empty).
* A hook must be cheap and must not import torch or heavy agent code: ``wmbench list-agents``
  calls every hook. Heavy code is reached through the spec's lazy ``"module:attr"`` reference.
* Names are unique across plugins. A clash is reported by ``wmbench plugins`` and the first
  registered plugin wins (the core's built-ins register first).
* A plugin that fails to import, or whose hook raises or returns something that is not a list of
  the right spec type, is reported by name with its error; the other plugins keep working.

The agent object a factory returns is described in :mod:`wmbench_core.agent`.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "wmbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def wmbench_agents() -> list:  # list[AgentSpec]
    """Return the agents this plugin offers, as :class:`wmbench_core.AgentSpec` objects.

    Each spec's ``factory`` is a ``"module:attr"`` string naming a subclass of
    :class:`wmbench_core.Agent`. It is imported only when the agent is described or run.
    """


@hookspec
def wmbench_metrics() -> list:  # list[MetricSpec]
    """Return aggregate metrics, as :class:`wmbench_core.MetricSpec` objects.

    A metric maps a ``(runs, games)`` score matrix to one float. The core adds stratified
    bootstrap confidence intervals for metrics with ``bootstrap=True`` and shows every metric in
    result aggregates, ``wmbench report`` and ``wmbench compare``.
    """


@hookspec
def wmbench_exporters() -> list:  # list[ExporterSpec]
    """Return result formats, as :class:`wmbench_core.ExporterSpec` objects.

    Every exporter name becomes a valid ``--format`` choice of ``wmbench run`` and ``wmbench
    report``; ``write(document, path)`` receives the results document of
    :mod:`wmbench_core.results`.
    """
