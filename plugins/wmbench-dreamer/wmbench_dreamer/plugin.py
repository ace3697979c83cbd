"""wmbench entry point: the three Dreamers (cheap to import: no torch here)."""

from __future__ import annotations

from wmbench_core import AgentSpec, hookimpl

_PRESETS = {
    "atari100k": "the paper's Atari configuration (DreamerV3: size S, 2023 recipe)",
    "tiny": "a small model that learns the toy game `catch` on a CPU in minutes",
}


@hookimpl
def wmbench_agents() -> list[AgentSpec]:
    return [
        AgentSpec(
            name="dreamerv3",
            factory="wmbench_dreamer.agent:DreamerV3Agent",
            summary="DreamerV3 (2023 recipe): categorical RSSM, symlog/two-hot, return normalisation",
            presets=dict(_PRESETS),
            paper="Hafner et al., Mastering Diverse Domains through World Models, arXiv 2301.04104, 2023",
            url="https://arxiv.org/abs/2301.04104",
        ),
        AgentSpec(
            name="dreamerv2",
            factory="wmbench_dreamer.agent:DreamerV2Agent",
            summary="DreamerV2: 32x32 categorical latents, KL balancing, REINFORCE actor",
            presets={
                "atari100k": "the paper's Atari configuration at the Atari 100k budget",
                "tiny": _PRESETS["tiny"],
            },
            paper="Hafner et al., Mastering Atari with Discrete World Models, ICLR 2021",
            url="https://arxiv.org/abs/2010.02193",
        ),
        AgentSpec(
            name="dreamerv1",
            factory="wmbench_dreamer.agent:DreamerV1Agent",
            summary="DreamerV1: Gaussian RSSM, free nats, actor trained through the dynamics",
            presets={
                "atari100k": "the paper's configuration (Atari variant) at the Atari 100k budget",
                "tiny": _PRESETS["tiny"],
            },
            paper="Hafner et al., Dream to Control: Learning Behaviors by Latent Imagination, ICLR 2020",
            url="https://arxiv.org/abs/1912.01603",
        ),
    ]
