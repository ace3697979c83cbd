from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest
import torch

from wmbench_core.agent import CheckpointError, ConfigError
from wmbench_core.learning.checkpoint import load_checkpoint, restore_generator, save_checkpoint
from wmbench_core.learning.config import resolve_config
from wmbench_core.learning.device import resolve_device
from wmbench_core.learning.monitor import NonFiniteLossError, TrainingMonitor
from wmbench_core.learning.optim import fused_adam
from wmbench_core.learning.replay import ReplayBuffer, area_resize, frames_to_tensor
from wmbench_core.learning.returns import lambda_returns
from wmbench_core.learning.twohot import TwoHot, symexp, symlog


def test_lambda_returns_hand_computed():
    r = torch.tensor([1.0, 0.0, 2.0])
    v = torch.tensor([0.5, 1.0, 1.5, 3.0])
    d = torch.tensor([0.9, 0.9, 0.0])  # episode ends after the last step
    g = lambda_returns(r, v, d, lambda_=0.5)
    g2 = 2.0 + 0.0
    g1 = 0.0 + 0.9 * (0.5 * 1.5 + 0.5 * g2)
    g0 = 1.0 + 0.9 * (0.5 * 1.0 + 0.5 * g1)
    assert torch.allclose(g, torch.tensor([g0, g1, g2]))
    # lambda = 1: discounted Monte-Carlo return with bootstrap
    g = lambda_returns(r, v, torch.full((3,), 0.5), lambda_=1.0)
    assert g[0].item() == pytest.approx(1 + 0.5 * 0 + 0.25 * 2 + 0.125 * 3.0)


def test_symlog_symexp_and_twohot():
    x = torch.tensor([-100.0, -1.0, 0.0, 0.5, 1000.0])
    assert torch.allclose(symexp(symlog(x)), x, rtol=1e-5)
    assert symlog(torch.tensor(np.e - 1)).item() == pytest.approx(1.0)
    th = TwoHot(num_bins=5, low=-2, high=2, transform=None)
    enc = th.encode(torch.tensor([0.25, -2.0, 5.0]))
    assert torch.allclose(enc[0], torch.tensor([0, 0, 0.75, 0.25, 0]))
    assert torch.allclose(enc[1], torch.tensor([1.0, 0, 0, 0, 0]))
    assert torch.allclose(enc[2], torch.tensor([0, 0, 0, 0, 1.0]))  # clipped at the top bin
    th = TwoHot()  # DreamerV3's 255 symlog bins
    y = torch.tensor([-37.0, 0.0, 3.3, 250.0])
    logits = torch.log(th.encode(y) + 1e-12)
    assert torch.allclose(th.decode(logits), y, rtol=1e-3, atol=1e-4)


def test_replay_sequences_and_segments():
    buf = ReplayBuffer(capacity=10, obs_shape=(2, 2, 3))
    for t in range(14):  # two episodes of 7 steps; the ring overwrites the first 4 rows
        buf.add(np.full((2, 2, 3), t, np.uint8), action=t % 3, reward=float(t), terminated=(t % 7 == 6),
                is_first=(t % 7 == 0))  # fmt: skip
    assert len(buf) == 10 and buf.total_added == 14
    rng = np.random.default_rng(0)
    seq = buf.sample_sequences(64, 4, rng)
    diffs = np.diff(seq["reward"], axis=1)
    assert (diffs == 1).all()  # contiguous in time, never across the ring's write head
    assert seq["obs"].dtype == np.uint8 and seq["obs"].shape == (64, 4, 2, 2, 3)
    seg = buf.sample_segments(64, 5, rng)
    for rew, mask, ep in zip(seg["reward"], seg["mask"], seg["episode"]):
        assert len(set(ep)) == 1  # inside one episode
        valid = rew[mask]
        assert (np.diff(valid) == 1).all()
    # rows held: steps 4..13; chronological position 4 = step 8, the 2nd step of episode 2
    anchor = np.array([4])
    seg = buf.sample_segments(1, 4, rng, starts=anchor - 3, episode_of=anchor)
    assert seg["mask"][0].tolist() == [False, False, True, True]
    assert seg["reward"][0].tolist() == [7.0, 7.0, 7.0, 8.0]  # padded with the episode's first step


def test_replay_episode_uniform_steps():
    """An episode drawn uniformly, then a step inside it (IRIS's reference sampling): a 10-step
    and a 990-step episode are each drawn half of the time, steps uniform within each."""
    buf = ReplayBuffer(capacity=1000, obs_shape=(1, 1, 3))
    for t in range(1000):
        buf.add(np.zeros((1, 1, 3), np.uint8), 0, 0.0, terminated=(t == 9), is_first=(t in (0, 10)))
    steps = buf.episode_uniform_steps(100_000, np.random.default_rng(0))
    assert (steps < 10).mean() == pytest.approx(0.5, abs=0.01)
    assert np.bincount(steps[steps < 10], minlength=10) / (steps < 10).sum() == pytest.approx([0.1] * 10, abs=0.01)
    assert steps.min() == 0 and steps.max() == 999


def _episodes(spans: list[tuple[int, bool]]) -> ReplayBuffer:
    """A buffer holding episodes of the given (rows, finished) in order; reward = row number."""
    buf = ReplayBuffer(capacity=sum(n for n, _ in spans), obs_shape=(1, 1, 3))
    for rows, finished in spans:
        for i in range(rows):
            buf.add(np.zeros((1, 1, 3), np.uint8), 0, float(buf.total_added),
                    terminated=finished and i == rows - 1, is_first=i == 0)  # fmt: skip
    return buf


def test_replay_episode_window_starts():
    """DreamerV1/V2's windows: an episode drawn uniformly among the finished ones longer than the
    window, a start uniform inside it; with V2's prioritize_ends the episode's last window also
    takes the draws past it: (length + 1) / (rows + 1) of them."""
    buf = _episodes([(5, True), (20, True), (60, True), (30, False)])  # ep 0 too short, ep 3 unfinished
    rng = np.random.default_rng(0)
    for ends in (False, True):
        starts = buf.episode_window_starts(200_000, 5, rng, prioritize_ends=ends)
        ep = buf.rows(starts)["episode"]
        assert (buf.rows(starts + 4)["episode"] == ep).all()  # the whole window inside the episode
        assert set(np.unique(ep)) == {1, 2} and (ep == 1).mean() == pytest.approx(0.5, abs=0.01)
        offsets = np.bincount(starts[ep == 2] - 25, minlength=56) / (ep == 2).sum()  # ep 2: rows 25..84
        assert len(offsets) == 56  # starts 0..55: the last window ends on the episode's last row
        if ends:
            assert offsets[:-1] == pytest.approx([1 / 61] * 55, abs=0.003)
            assert offsets[-1] == pytest.approx(6 / 61, abs=0.005)
        else:
            assert offsets == pytest.approx([1 / 56] * 56, abs=0.003)
    # nothing finished long enough: the unfinished episode stands in, else there is none
    assert set(_episodes([(5, True), (9, False)]).episode_window_starts(100, 5, rng)) <= {5, 6, 7, 8, 9}
    assert _episodes([(5, True), (5, False)]).episode_window_starts(100, 5, rng) is None
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        _episodes([(5, True), (5, False)]).rows(np.array([10]))


def test_replay_memory_budget():
    frames = 100_000 * 64 * 64 * 3
    assert frames / 2**30 < 1.3  # 100k Atari frames stored once, uint8


def test_checkpoint_roundtrip_and_refusals(tmp_path):
    path = tmp_path / "a.ckpt"
    save_checkpoint(path, "agent-x", {"w": torch.ones(3), "step": 5})
    data = load_checkpoint(path, "agent-x")
    assert data["step"] == 5 and torch.equal(data["w"], torch.ones(3))
    with pytest.raises(CheckpointError, match="belongs to agent"):
        load_checkpoint(path, "agent-y")
    truncated = tmp_path / "t.ckpt"
    truncated.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(truncated, "agent-x")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt", "agent-x")


def test_generator_states_restore_and_a_state_of_another_device_kind_keeps_the_seed():
    saved = torch.Generator().manual_seed(5).get_state()
    g = torch.Generator().manual_seed(3)
    assert restore_generator(g, saved) and torch.equal(g.get_state(), saved)
    # a CUDA generator's get_state() is 16 bytes (seed, offset): a GPU-trained run loaded on a CPU
    g = torch.Generator().manual_seed(3)
    before = g.get_state()
    with pytest.warns(UserWarning, match="another device than cpu"):
        assert not restore_generator(g, torch.zeros(16, dtype=torch.uint8))
    assert torch.equal(g.get_state(), before)


def test_resolve_device_checks_names_and_gpu_indices(monkeypatch):
    assert resolve_device("cpu") == "cpu" and resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with two GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda") == "cuda" and resolve_device("cuda:1") == "cuda:1"
    for bad in ("cuda:2", "cuda:x"):
        with pytest.raises(ValueError, match=r"torch sees 2 CUDA GPU\(s\); valid: cuda, cuda:0 .. cuda:1"):
            resolve_device(bad)


class _Evil:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_malicious_checkpoint_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.ckpt"
    torch.save({"format": "wmbench-checkpoint", "agent": "agent-x", "payload": _Evil()}, evil)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(evil, "agent-x")
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(CheckpointError):
        load_checkpoint(raw, "agent-x")
    assert not (tmp_path / "PWNED").exists()


def test_monitor_writes_csv_and_stops_on_nan(tmp_path):
    mon = TrainingMonitor(None, tmp_path, total_env_steps=10, tensorboard=False)
    mon.log(1, {"loss/a": 1.0})
    mon.log(2, {"loss/a": 0.5, "loss/b": 2.0})
    lines = (tmp_path / "losses.csv").read_text().splitlines()
    assert lines[0] == "env_step,wall_time,loss/a,loss/b" and len(lines) == 3
    with pytest.raises(NonFiniteLossError, match="'loss/b' is nan at env step 3"):
        mon.log(3, {"loss/a": 0.1, "loss/b": float("nan")})


def test_resolve_config_presets_and_overrides():
    from dataclasses import dataclass

    @dataclass
    class Cfg:
        lr: float = 1e-4
        layers: int = 10
        use_x: bool = True
        every: int | None = None  # None default: the declared type still checks --set values

    presets = {"paper": {}, "tiny": {"layers": 2}}
    assert resolve_config(Cfg, presets, None).layers == 10
    c = resolve_config(Cfg, presets, "tiny", {"lr": 3, "use_x": "false"})
    assert (c.layers, c.lr, c.use_x) == (2, 3.0, False)
    with pytest.raises(ConfigError, match="unknown preset 'huge'; valid: paper, tiny"):
        resolve_config(Cfg, presets, "huge")
    with pytest.raises(ConfigError, match="did you mean layers"):
        resolve_config(Cfg, presets, None, {"layer": 3})
    with pytest.raises(ConfigError, match="expects int"):
        resolve_config(Cfg, presets, None, {"layers": "many"})
    assert resolve_config(Cfg, presets, None, {"every": 5}).every == 5
    assert resolve_config(Cfg, presets, None, {"every": None}).every is None
    with pytest.raises(ConfigError, match="'every' expects int"):
        resolve_config(Cfg, presets, None, {"every": "often"})


def test_frames_to_tensor_area_resize_keeps_a_cell_grid_exact():
    frames = np.zeros((2, 64, 64, 3), np.uint8)
    frames[0, 8:16, 24:32, 0] = 255  # one 8x8 cell of a catch-like grid, red
    full = frames_to_tensor(frames)
    assert full.shape == (2, 3, 64, 64) and float(full.max()) == 1.0
    small = frames_to_tensor(frames, size=16)  # each cell becomes 2x2 pixels, still pure red
    assert small.shape == (2, 3, 16, 16)
    assert torch.equal(small[0, 0, 2:4, 6:8], torch.ones(2, 2))
    assert float(small.sum()) == 4.0
    assert area_resize(full, 64) is full


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_release_free_memory_returns_freed_heap_to_the_os():
    """With the tuned allocator a process keeps its peak RSS; malloc_trim gives freed pages back."""
    from wmbench_core.learning.allocator import release_free_memory, tune_malloc

    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    tune_malloc()
    big = torch.ones(64 * 2**20 // 4)  # 64 MB, touched
    before = rss_mb()
    del big
    assert release_free_memory()
    assert rss_mb() < before - 32


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tuned_malloc_keeps_even_a_freed_heap_top_above_2_gb():
    """An update that frees more than 2 GB (DIAMOND's reward/termination update peaks at ~9 GB)
    must find that memory in the heap next time, not fault it in again: the tuned allocator never
    trims the heap (a 2**31 - 1 threshold did). Seen on the program break, in a fresh interpreter
    with nothing allocated above the block; the block is never touched, so it costs no RAM."""
    import subprocess

    code = """
import ctypes
from wmbench_core.learning.allocator import tune_malloc
assert tune_malloc()
libc = ctypes.CDLL("libc.so.6")
libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_ssize_t]
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.restype, libc.free.argtypes = None, [ctypes.c_void_p]
start = libc.sbrk(0)
block = libc.malloc(int(2.2 * 2**30))  # from the heap: mmap is off
grown = libc.sbrk(0)
libc.free(block)
print(grown - start, libc.sbrk(0) - start)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}  # mallopt, not env vars
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    grown, after_free = map(int, out.stdout.split())
    assert grown > 2 * 2**30 and after_free == grown


@pytest.mark.parametrize("cls", [torch.optim.Adam, torch.optim.AdamW])
def test_fused_adam_takes_the_same_steps_as_the_default_one(cls):
    """fused_adam picks PyTorch's fused kernel on CPU; five steps with weight decay and two
    param groups must land where the default implementation lands (to float rounding)."""
    torch.manual_seed(0)
    start = [torch.randn(7, 5), torch.randn(5)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(5)]
    results = []
    for make in (cls, lambda groups, **kw: fused_adam(cls, groups, **kw)):
        params = [p.clone().requires_grad_(True) for p in start]
        opt = make([{"params": params[:1]}, {"params": params[1:], "lr": 3e-3}], lr=1e-2, eps=1e-6, weight_decay=0.1)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = g.clone()
            opt.step()
        results.append((params, opt))
    (default, _), (fused, opt) = results
    assert opt.param_groups[0]["fused"] is True
    for a, b in zip(default, fused):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    moved = [not torch.allclose(p, s) for p, s in zip(fused, start)]
    assert all(moved)


@pytest.mark.parametrize("channels_last", [False, True])
def test_nearest_upsample_conv_equals_interpolate_then_conv(channels_last):
    """The transposed-convolution form computes the reference's pair of ops: same values and the
    same gradients for the input, weight and bias, on a non-square map, both memory layouts."""
    import torch.nn.functional as F

    from wmbench_core.learning.upsample import NearestUpsampleConv, upsample_conv_kernel

    torch.manual_seed(0)
    up = NearestUpsampleConv(5, 7)
    assert set(up.state_dict()) == {"conv.weight", "conv.bias"}  # the reference's names
    x = torch.randn(3, 5, 6, 9)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    want = F.conv2d(F.interpolate(x1, scale_factor=2.0, mode="nearest"), up.conv.weight, up.conv.bias, padding=1)
    got = up(x2)
    assert got.shape == want.shape == (3, 7, 12, 18)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(want)
    grads_want = torch.autograd.grad(want, (x1, up.conv.weight, up.conv.bias), g)
    grads_got = torch.autograd.grad(got, (x2, up.conv.weight, up.conv.bias), g)
    for a, b in zip(grads_got, grads_want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # the 4-tap kernel, by hand on one axis pair: K[1][1] = W1+W2 rows x W1+W2 columns
    w = up.conv.weight.detach()
    k = upsample_conv_kernel(w)
    assert k.shape == (5, 7, 4, 4)
    torch.testing.assert_close(k[:, :, 1, 1], w[:, :, 1:, 1:].sum((-1, -2)).T)
    torch.testing.assert_close(k[:, :, 3, 0], w[:, :, 0, 2].T)


def _onednn_here() -> bool:
    from wmbench_core.learning.linear import _AVAILABLE

    return _AVAILABLE


def _count_onednn_calls(monkeypatch) -> list[int]:
    import wmbench_core.learning.linear as lin

    calls = [0]
    real = lin._pointwise

    def counted(*args):
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(lin, "_pointwise", counted)
    return calls


@pytest.mark.skipif(not _onednn_here(), reason="oneDNN linear is used on x86-64 torch builds only")
def test_onednn_linear_matches_f_linear_with_all_gradients(monkeypatch):
    """Large products go to oneDNN and give F.linear's values and gradients to float rounding:
    3-D input, with and without bias, a weight that is a column slice (strides oneDNN would run
    on a reference kernel) and an expanded (stride-0) output gradient."""
    import torch.nn.functional as F

    from wmbench_core.learning.linear import MIN_MACS, Linear, linear, mm

    calls = _count_onednn_calls(monkeypatch)
    torch.manual_seed(0)
    x = torch.randn(4, 300, 96)
    full = torch.randn(200, 160)
    for weight_of, bias in [(lambda w: w[:, :96], torch.randn(200)), (lambda w: w[:, 64:], None)]:
        w1, w2 = full.clone().requires_grad_(), full.clone().requires_grad_()
        b1 = b2 = None
        if bias is not None:
            b1, b2 = bias.clone().requires_grad_(), bias.clone().requires_grad_()
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        assert 1200 * 96 * 200 >= MIN_MACS
        before = calls[0]
        got, want = linear(x1, weight_of(w1), b1), F.linear(x2, weight_of(w2), b2)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        g = torch.randn(200).expand_as(want)  # what the gradient of a sum over rows looks like
        got.backward(g)
        want.backward(g)
        assert calls[0] - before == 3  # forward, input gradient, weight gradient
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(w1.grad, w2.grad, rtol=1e-4, atol=1e-3)
        if bias is not None:
            torch.testing.assert_close(b1.grad, b2.grad)
    a, b = torch.randn(700, 300), torch.randn(300, 200)
    torch.testing.assert_close(mm(a, b), a @ b, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(mm(a.t().contiguous().t(), b.t().contiguous().t()), a @ b, rtol=1e-5, atol=1e-4)
    layer = Linear(96, 200)
    assert set(layer.state_dict()) == {"weight", "bias"}  # nn.Linear's keys: checkpoints unchanged
    with torch.no_grad():
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not _onednn_here(), reason="oneDNN linear is used on x86-64 torch builds only")
def test_small_products_and_the_off_switch_keep_torchs_kernel(monkeypatch):
    """Below MIN_MACS (oneDNN's overhead loses there) and when switched off, linear is F.linear
    bit for bit: toy presets and acting keep PyTorch's numerics."""
    import torch.nn.functional as F

    import wmbench_core.learning.linear as lin

    calls = _count_onednn_calls(monkeypatch)
    torch.manual_seed(0)
    small_x, small_w = torch.randn(16, 64), torch.randn(64, 64)
    assert torch.equal(lin.linear(small_x, small_w), F.linear(small_x, small_w))
    x, w = torch.randn(1024, 256), torch.randn(512, 256)
    monkeypatch.setattr(lin, "_enabled", lin._enabled)  # restored after the test
    lin.set_enabled(False)
    assert not lin.enabled()
    assert torch.equal(lin.linear(x, w), F.linear(x, w))
    assert torch.equal(lin.mm(x, w.t()), x @ w.t())
    assert calls[0] == 0
    lin.set_enabled(True)
    lin.linear(x, w)
    assert calls[0] == 1
    bias = torch.zeros(512, requires_grad=True)  # only the bias needs a gradient
    lin.linear(x, w, bias).sum().backward()
    torch.testing.assert_close(bias.grad, torch.full((512,), 1024.0))
