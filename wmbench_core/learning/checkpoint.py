"""Checkpoint files that never execute code when loaded.

A checkpoint is a dict of tensors, plain Python values (numbers, strings, lists, dicts) and
state_dicts, written with ``torch.save`` (atomically: temp file + rename) and read back with
``torch.load(weights_only=True)``, which refuses any pickle that would build arbitrary objects.
Every checkpoint carries ``{"format": "wmbench-checkpoint", "agent": name}`` so that a file of
another agent is refused with a clear message.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from wmbench_core.agent import CheckpointError

FORMAT = "wmbench-checkpoint"


def save_checkpoint(path: str | Path, agent_name: str, payload: dict[str, Any]) -> Path:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, "agent": agent_name, **payload}, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, agent_name: str, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a weights-only checkpoint of ``agent_name``; raise :class:`CheckpointError` otherwise."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a weights-only file (refused to unpickle code: {first})"
        ) from None
    except (zipfile.BadZipFile, EOFError, RuntimeError, OSError) as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a wmbench checkpoint")
    if data.get("agent") != agent_name:
        raise CheckpointError(
            f"checkpoint {str(path)!r} belongs to agent {data.get('agent')!r}, not {agent_name!r}"
        )
    return data
