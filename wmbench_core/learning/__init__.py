"""Torch helpers every agent plugin needs, written once (imported by plugins, never by listing).

* :mod:`.replay` — a replay buffer of uint8 frames stored once, sampling sequences/segments
* :mod:`.returns` — λ-returns
* :mod:`.twohot` — symlog/symexp and two-hot encoding of scalars over fixed bins
* :mod:`.checkpoint` — weights-only checkpoint files (never execute code when loading)
* :mod:`.monitor` — training progress, loss CSV/TensorBoard logging, non-finite loss checks
* :mod:`.device` — ``--device auto|cpu|cuda|mps`` and seeding
* :mod:`.config` — dataclass configs with presets and ``--set`` overrides
* :mod:`.allocator` — the glibc malloc settings that make large CPU updates fast here
* :mod:`.optim` — Adam/AdamW with PyTorch's fused kernel where the device has one
* :mod:`.linear` — linear layers whose large fp32 CPU products run on oneDNN (2x MKL on AMD AVX-512)
* :mod:`.upsample` — nearest 2x upsampling + 3x3 convolution as one transposed convolution (U-Nets, VQGAN)
"""
