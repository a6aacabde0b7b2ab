"""Sample sheets a trainer writes every ``--sample-every`` steps, to look at while it learns."""

from __future__ import annotations

from pathlib import Path

import torch

from ..media.images import write_image


def write_sample_grid(out_dir, step: int, rows: list[torch.Tensor]) -> Path:
    """``sample_<step>.jpg`` in ``out_dir``: one row per [B, 3, H, W] RGB 0..255 batch, its images
    side by side (say: inputs, styles, outputs), so a column reads as one example."""
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    rgb = grid.permute(1, 2, 0).byte().cpu().numpy()
    return write_image(Path(out_dir) / f"sample_{step:06d}.jpg", rgb[:, :, ::-1])
