"""Command-line interface: one module per command, each with ``add_parser`` and ``run``.

Command modules import torch/onnxruntime inside ``run`` only, so ``--help`` and ``--version``
answer instantly.
"""
