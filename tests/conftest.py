from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN = ROOT / "examples" / "wmbench-example-plugin"


@pytest.fixture
def example_plugin_on_path(monkeypatch):
    """The example third-party plugin importable (as if pip-installed) and discoverable."""
    from importlib.metadata import EntryPoint

    import wmbench_core.plugins as plugins

    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    real = plugins._wmbench_entry_points
    ep = EntryPoint(name="example", value="wmbench_example.plugin", group="wmbench")
    monkeypatch.setattr(plugins, "_wmbench_entry_points", lambda: [*real(), ep])
    plugins.get_registry(refresh=True)
    yield
    for mod in [m for m in sys.modules if m.startswith("wmbench_example")]:
        del sys.modules[mod]
    monkeypatch.setattr(plugins, "_wmbench_entry_points", real)
    plugins.get_registry(refresh=True)
