from __future__ import annotations

import json
import subprocess
import sys
import types
from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

from wmbench_core import AgentSpec, hookimpl
from wmbench_core.cli import cli
from wmbench_core.plugins import PluginRegistry, UnknownNameError, get_registry


def test_core_registers_random_agent_metrics_and_exporters():
    reg = get_registry(refresh=True)
    assert "random" in reg.agents
    assert {"mean", "median", "iqm", "optimality_gap"} <= set(reg.metrics)
    assert {"json", "csv", "md", "tex"} <= set(reg.exporters)
    assert not [f for f in reg.failures if f.distribution == "wmbench"]


def test_broken_plugin_is_reported_and_others_keep_working():
    good = types.ModuleType("good_plugin")
    good.wmbench_agents = hookimpl(lambda: [AgentSpec(name="good", factory="x:y")])
    bad_hook = types.ModuleType("bad_hook")
    bad_hook.wmbench_agents = hookimpl(lambda: "not a list")
    broken_ep = EntryPoint(name="broken", value="no_such_module_xyz.plugin", group="wmbench")
    reg = PluginRegistry(entry_points=[broken_ep], extra_plugins=[good, bad_hook])
    assert "good" in reg.agents
    errors = {f.name: f.error for f in reg.failures}
    assert "ModuleNotFoundError" in errors["broken"]
    assert "must return a list" in errors["bad_hook"]


def test_plugin_with_unknown_hook_argument_is_rejected_cleanly():
    weird = types.ModuleType("weird")
    weird.wmbench_agents = hookimpl(lambda nonexistent: [])
    reg = PluginRegistry(entry_points=[], extra_plugins=[weird])
    assert [f.name for f in reg.failures] == ["weird"]
    assert not reg.pm.has_plugin("weird")  # pluggy's half-registration was undone


def test_duplicate_agent_name_keeps_first():
    a = types.ModuleType("a_plugin")
    a.wmbench_agents = hookimpl(lambda: [AgentSpec(name="dup", factory="a:A")])
    b = types.ModuleType("b_plugin")
    b.wmbench_agents = hookimpl(lambda: [AgentSpec(name="dup", factory="b:B")])
    reg = PluginRegistry(entry_points=[], extra_plugins=[a, b])
    assert reg.agents["dup"][0].factory == "a:A"
    assert any("already provided" in f.error for f in reg.failures)


def test_disable_plugins_env_var(monkeypatch):
    monkeypatch.setenv("WMBENCH_DISABLE_PLUGINS", "core")
    reg = PluginRegistry()
    assert "random" not in reg.agents
    assert "core" in reg.disabled


def test_unknown_agent_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid: .*random"):
        get_registry(refresh=True).agent("nope")


def test_list_agents_imports_no_torch():
    code = (
        "import sys; from wmbench_core.cli import cli\n"
        "try:\n    cli(['list-agents', '--json'], standalone_mode=False)\n"
        "finally:\n    print('TORCH' if 'torch' in sys.modules else 'NOTORCH', file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "NOTORCH" in out.stderr
    names = [a["name"] for a in json.loads(out.stdout)]
    assert "random" in names


def test_example_plugin_shows_in_list_agents_and_contributes_metric_and_exporter(example_plugin_on_path):
    result = CliRunner().invoke(cli, ["list-agents", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["sticky-random"]["presets"] == ["default", "jumpy"]
    reg = get_registry()
    assert "worst_game" in reg.metrics and "txt" in reg.exporters
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    data = json.loads(result.output)
    example = [p for p in data["plugins"] if p["name"] == "example"][0]
    assert example["hooks"] == ["wmbench_agents", "wmbench_exporters", "wmbench_metrics"]


def test_example_plugin_agent_runs_and_exports_txt(example_plugin_on_path, tmp_path):
    out = tmp_path / "res"
    result = CliRunner().invoke(cli, ["run", "--agent", "sticky-random", "--game", "catch", "--seeds", "2",
                                      "--episodes", "3", "--out-dir", str(out), "--format", "json,txt"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = (out / "benchmark_results.txt").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("sticky-random|default|catch|0")
