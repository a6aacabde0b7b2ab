"""Quality measures for any stylisation method: Gram style loss and content loss on the eval photos.

Uses the same relative losses as training (losses.py), so numbers are comparable across Gatys,
Johnson, Engstrom, AdaIN and Magenta outputs. Lower style loss = closer to the painting's textures;
lower content loss = more of the photo kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from ..imageops import resize_long_side
from ..media.images import list_images, read_image
from ..models.ops import channel_mean_std
from ..training.losses import (CONTENT_LAYER, GRAM_STYLE_LAYERS, content_loss, gram_style_terms, gram_targets,
                               load_loss_network, relative_mse)

Method = Callable[[np.ndarray], np.ndarray]  # BGR uint8 -> BGR uint8


def _to_tensor(bgr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1])).permute(2, 0, 1)[None].float() / 255.0


@dataclass
class QualityScore:
    style: float          # Gram loss vs the style image (relative, summed over 4 layers)
    content: float        # relu2_2 loss vs the photo (relative)
    mean_std_style: float  # AdaIN-style loss on channel mean/std (relative, same layers)
    photos: int
    style_by_layer: dict[str, float] = field(default_factory=dict)  # the style loss's terms
    coarse_ssim: float = float("nan")  # coarse_ssim(photo, output), mean over photos
    structure_ssim: float = float("nan")  # structure_ssim(photo, output), mean over photos


COARSE_FACTOR = 8
STRUCTURE_FACTOR = 2


def grey_ssim(photo_bgr: np.ndarray, output_bgr: np.ndarray, factor: int) -> float:
    """SSIM (Wang et al. 2004; Gaussian window, sigma 1.5, K1 0.01, K2 0.03) of the grey images
    area-averaged over ``factor`` x ``factor`` cells; 1 = the photo's grey image itself.

    At ``STRUCTURE_FACTOR`` (half size) it asks whether eyes, mouths, lettering and edges are still
    where the photo has them under the painting's texture: a stylisation that smears them scores
    low however well its Gram loss matches. At ``COARSE_FACTOR`` it is a ruler of large invented
    shapes (motifs stamped over flat walls and skies): strokes finer than a cell and the palette
    hardly move it, a disc of several cells does."""
    h, w = photo_bgr.shape[:2]
    if output_bgr.shape[:2] != (h, w):
        output_bgr = cv2.resize(output_bgr, (w, h), interpolation=cv2.INTER_AREA)
    size = (max(1, w // factor), max(1, h // factor))
    x, y = (cv2.resize(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float64)
            for im in (photo_bgr, output_bgr))

    def blur(a):
        return cv2.GaussianBlur(a, (7, 7), 1.5)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(ssim.mean())


def structure_ssim(photo_bgr: np.ndarray, output_bgr: np.ndarray) -> float:
    return grey_ssim(photo_bgr, output_bgr, STRUCTURE_FACTOR)


def coarse_ssim(photo_bgr: np.ndarray, output_bgr: np.ndarray) -> float:
    return grey_ssim(photo_bgr, output_bgr, COARSE_FACTOR)


class QualityMeter:
    def __init__(self, vgg_weights: Path, style_image: Path, style_size: int = 512,
                 content_layer: str = CONTENT_LAYER):
        self.content_layer = content_layer
        self.vgg = load_loss_network(vgg_weights)
        style = resize_long_side(read_image(style_image, "style image"), style_size)
        with torch.no_grad():
            self.style_feats = self.vgg(_to_tensor(style))
            self.style_grams = gram_targets(self.style_feats)

    @torch.no_grad()
    def score_pair(self, photo_bgr: np.ndarray, output_bgr: np.ndarray) -> tuple[float, float, float]:
        """(Gram style loss, content loss, mean/std style loss) of one output."""
        style_terms, content, mean_std = self.score_pair_by_layer(photo_bgr, output_bgr)
        return sum(style_terms.values()), content, mean_std

    @torch.no_grad()
    def score_pair_by_layer(self, photo_bgr: np.ndarray, output_bgr: np.ndarray) -> tuple[dict, float, float]:
        """As ``score_pair``, with the Gram style loss split into its layers."""
        if output_bgr.shape != photo_bgr.shape:
            output_bgr = cv2.resize(output_bgr, (photo_bgr.shape[1], photo_bgr.shape[0]))
        fp = self.vgg(_to_tensor(photo_bgr))
        fo = self.vgg(_to_tensor(output_bgr))
        ms = 0.0
        for name in GRAM_STYLE_LAYERS:
            m, s = channel_mean_std(fo[name])
            tm, ts = channel_mean_std(self.style_feats[name])
            ms += float(relative_mse(m, tm) + relative_mse(s, ts))
        terms = {name: float(v) for name, v in gram_style_terms(fo, self.style_grams).items()}
        return terms, float(content_loss(fo, fp, self.content_layer)), ms

    def score(self, method: Method, photos: list[Path], size: int = 384) -> QualityScore:
        layers, rows = [], []
        for p in photos:
            photo = resize_long_side(read_image(p), size)
            output = method(photo)
            terms, content, mean_std = self.score_pair_by_layer(photo, output)
            layers.append([terms[name] for name in self.style_grams])
            rows.append((content, mean_std, coarse_ssim(photo, output), structure_ssim(photo, output)))
        by_layer, (content, mean_std, coarse, structure) = np.mean(layers, axis=0), np.mean(rows, axis=0)
        # the mean of per-photo sums is the sum of per-layer means
        return QualityScore(float(by_layer.sum()), float(content), float(mean_std), len(rows),
                            dict(zip(self.style_grams, map(float, by_layer))), float(coarse), float(structure))


def eval_photos(shared: Path) -> list[Path]:
    return list_images(shared / "content" / "eval")
