"""Training images held in memory; every batch is a pure function of (seed, step).

Deterministic batches make ``--resume`` continue with exactly the batch it would have seen, and
need no DataLoader workers (decoding happens once, up front).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..imageops import resize_long_side
from ..media.images import list_images, read_image


# Long side training photos are scaled down to when loaded: the shipped nets trained on photos of
# 288x432, and a folder of full-size phone photos would otherwise fill the memory (12 MP each) and
# show the net objects far smaller than in any frame it paints.
CONTENT_LONG_SIDE = 432
# Gaussian sigma range (px at the training size) of ImageBank.batch's defocus blur: from a slightly
# soft frame to a background as out of focus as the wall behind the fox in fox.mp4 at 480 px.
DEFOCUS_SIGMA = (1.0, 4.0)
# ImageBank.batch's flat shading: an edge-preserving smoothing (OpenCV's recursive filter) with a
# spatial sigma in FLAT_SIGMA_S px and a range sigma in FLAT_SIGMA_R (0..1) leaves planes of smooth
# colour between sharp edges, as rendered animation (big_buck_bunny) and flat graphics are.
FLAT_SIGMA_S, FLAT_SIGMA_R = (40.0, 120.0), (0.3, 0.6)


class ImageBank:
    """RGB uint8 images, with random square crops at a range of scales plus horizontal flips."""

    def __init__(self, paths: list[Path], what: str, max_side: int | None = None):
        if not paths:
            raise InputError(f"no {what} images found; give a folder with .jpg/.png files")
        self.images: list[np.ndarray] = []
        self.skipped: list[Path] = []
        for p in paths:
            try:
                bgr = read_image(p)
            except InputError:
                self.skipped.append(p)
                continue
            if max_side and max(bgr.shape[:2]) > max_side:
                bgr = resize_long_side(bgr, max_side)
            self.images.append(np.ascontiguousarray(bgr[:, :, ::-1]))
        if not self.images:
            raise InputError(f"none of the {len(paths)} {what} images could be read")

    @classmethod
    def from_folders(cls, folders, what: str, exclude: tuple[str, ...] = (), max_side: int | None = None,
                     limit: int | None = None):
        """The images in ``folders`` (searched recursively); ``limit``: at most that many, spread
        evenly over the sorted list, so a large photo library is not all decoded for a short run."""
        paths: list[Path] = []
        for folder in folders:
            paths += [p for p in list_images(folder) if p.stem not in exclude]
        if limit and len(paths) > limit:
            paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
        return cls(paths, what, max_side)

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, seed: int, step: int, batch_size: int, size: int,
              scale: tuple[float, float] = (0.6, 1.0), defocus: float = 0.0, flat: float = 0.0) -> torch.Tensor:
        """[B, 3, size, size] float RGB 0..255 crops; crop side = U(scale) * the image's short side.

        ``defocus``: the fraction of crops blurred by a Gaussian of sigma U(DEFOCUS_SIGMA) px, as
        out-of-focus backgrounds and soft video frames are. The blur draws from its own generator,
        so a batch has the same crops with or without it. ``flat``: the fraction of crops turned
        into flat shading (``FLAT_SIGMA_S``), also from a generator of its own.
        """
        rng = np.random.default_rng([seed, step])
        blur_rng = np.random.default_rng([seed, step, 1])
        flat_rng = np.random.default_rng([seed, step, 2])
        out = np.empty((batch_size, size, size, 3), np.uint8)
        for i in range(batch_size):
            img = self.images[rng.integers(len(self.images))]
            h, w = img.shape[:2]
            side = max(1, int(round(min(h, w) * rng.uniform(*scale))))
            y = rng.integers(h - side + 1)
            x = rng.integers(w - side + 1)
            crop = img[y:y + side, x:x + side]
            interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
            crop = cv2.resize(crop, (size, size), interpolation=interp)
            out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
            if defocus and blur_rng.random() < defocus:
                out[i] = cv2.GaussianBlur(out[i], (0, 0), blur_rng.uniform(*DEFOCUS_SIGMA))
            if flat and flat_rng.random() < flat:
                out[i] = cv2.edgePreservingFilter(np.ascontiguousarray(out[i]), flags=cv2.RECURS_FILTER,
                                                  sigma_s=flat_rng.uniform(*FLAT_SIGMA_S),
                                                  sigma_r=flat_rng.uniform(*FLAT_SIGMA_R))
        return torch.from_numpy(out).permute(0, 3, 1, 2).float()


def load_style_image(path, size: int | None) -> torch.Tensor:
    """One style image as [1, 3, H, W] float RGB 0..255, long side scaled to ``size`` if given."""
    bgr = read_image(path, what="style image")
    if min(bgr.shape[:2]) < 16:
        raise InputError(f"style image {path} is {bgr.shape[1]}x{bgr.shape[0]} px; use one of at least 64 px")
    if size:
        bgr = resize_long_side(bgr, size)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
