"""DIAMOND for wmbench: diffusion world model (EDM, pixel-space U-Net), reward/termination
model and actor-critic trained in imagination. Importing this package does not import torch;
the agent lives in :mod:`wmbench_diamond.agent`."""
