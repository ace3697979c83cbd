"""IRIS for wmbench: "Transformers are Sample-Efficient World Models" (Micheli, Alonso, Fleuret,
ICLR 2023). A clean re-implementation; importing this package does not import torch."""
