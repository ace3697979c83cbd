"""Checkpoint files that never execute code when loaded.

A checkpoint is a dict of tensors, plain Python values (numbers, strings, lists, dicts) and
state_dicts, written with ``torch.save`` (atomically: temp file + rename) and read back with
``torch.load(weights_only=True)``, which refuses any pickle that would build arbitrary objects.
Every checkpoint carries ``{"format": "wmbench-checkpoint", "agent": name}`` so that a file of
another agent is refused with a clear message. Any file that cannot be loaded so is refused with
one line (:class:`CheckpointError`) that never suggests turning ``weights_only`` off.

Files load onto the CPU whatever the agent's device: ``load_state_dict`` of modules and
optimisers copies into their own device, a ``torch.Generator`` takes only a CPU state, and replay
buffers are numpy. A checkpoint written on a GPU therefore loads on a CPU and the other way round;
only the generators' states do not carry across device kinds (:func:`restore_generator`).
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
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
    """Load a weights-only checkpoint of ``agent_name`` (onto the CPU: keep that default, see the
    module docstring); raise :class:`CheckpointError` otherwise."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore", UserWarning)
            data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever a foreign file makes torch raise
        code = re.search(r"GLOBAL ([\w.]+)", str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
        if code:  # a real torch.save file that names a class or function to import
            raise CheckpointError(
                f"checkpoint {str(path)!r} is not a weights-only file (refused to unpickle code: {code.group(1)})"
            ) from None
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt, or not a wmbench checkpoint ({_reason(exc, path)})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a wmbench checkpoint (a torch file without "
                              f"format {FORMAT!r}: written by something else)")  # fmt: skip
    if data.get("agent") != agent_name:
        raise CheckpointError(
            f"checkpoint {str(path)!r} belongs to agent {data.get('agent')!r}, not {agent_name!r}"
        )
    return data


def restore_generator(generator: Any, state: Any) -> bool:
    """Set ``generator`` (a ``torch.Generator``) to a saved ``get_state()``. A state saved by a
    generator of another device kind (a CUDA generator's 16 bytes against a CPU one's 5,056: a run
    trained on a GPU, resumed or evaluated on a CPU) does not fit: the generator keeps the seed it
    was built with, one warning says so, and False is returned."""
    state = state.cpu()  # set_state takes a CPU byte tensor, whatever the generator's device
    if state.shape == generator.get_state().shape:
        try:
            generator.set_state(state)
            return True
        except RuntimeError:
            pass
    warnings.warn(f"the checkpoint's random-number state is for another device than {generator.device.type}: "
                  "this run's draws continue from its own seed instead", stacklevel=2)
    return False


def _reason(exc: BaseException, path: Path) -> str:
    """A short reason without torch's advice (which includes loading with weights_only=False)."""
    if path.stat().st_size == 0:
        return "empty file"
    if isinstance(exc, (pickle.UnpicklingError, KeyError)):  # the legacy unpickler on foreign bytes
        return "not a file written by torch.save"
    if isinstance(exc, EOFError):
        return "the file ends too early"
    first = str(exc).strip().split(". ")[0].splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:120]}" if first else type(exc).__name__
