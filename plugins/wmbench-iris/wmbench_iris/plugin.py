"""wmbench plugin entry point: advertises the ``iris`` agent (cheap: no torch import)."""

from __future__ import annotations

from wmbench_core import AgentSpec, hookimpl


@hookimpl
def wmbench_agents() -> list[AgentSpec]:
    return [
        AgentSpec(
            name="iris",
            factory="wmbench_iris.agent:IrisAgent",
            summary="IRIS: VQ autoencoder + GPT world model over tokens, actor-critic in imagination",
            presets={
                "atari100k": "paper sizes and schedule (4.0M tokenizer, 8.45M GPT, 3.2M actor-critic)",
                "tiny": "same code, small sizes and schedule: learns `catch` on a CPU in minutes",
            },
            paper="Micheli, Alonso, Fleuret. Transformers are Sample-Efficient World Models. ICLR 2023",
            url="https://arxiv.org/abs/2209.00588",
        )
    ]
