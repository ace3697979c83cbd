"""Registers the ``diamond`` agent with wmbench (cheap: no torch import here)."""

from __future__ import annotations

from wmbench_core import AgentSpec, hookimpl


@hookimpl
def wmbench_agents() -> list[AgentSpec]:
    return [
        AgentSpec(
            name="diamond",
            factory="wmbench_diamond.agent:DiamondAgent",
            summary="DIAMOND: EDM diffusion world model in pixel space + actor-critic in imagination",
            presets={
                "atari100k": "paper / reference-code settings (eloialonso/diamond 5bcd159)",
                "tiny": "same code, small nets at 8x8 and a short schedule: learns catch on CPU",
            },
            paper="Alonso, Jelley, Micheli, Kanervisto, Storkey, Pearce, Fleuret. Diffusion for "
            "World Modeling: Visual Details Matter in Atari. NeurIPS 2024",
            url="https://arxiv.org/abs/2405.12399",
        )
    ]
