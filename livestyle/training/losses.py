"""Perceptual losses on the shared VGG-16.

The VGG-16 in ../shared has Caffe-scale activations (relu3_3 values in the thousands), so raw
squared errors differ by orders of magnitude between layers and between images. Every per-layer
loss here is *relative*: the squared error divided by the target's mean square. A loss of 1.0
then means "as far from the target as the target is from zero", on every layer, and one set of
weights works for Gatys, Johnson and AdaIN alike.
"""

from __future__ import annotations

import torch

from ..checkpoints import load_vgg16
from ..models.ops import channel_mean_std, gram_matrix
from ..models.vgg import VGG16Features

GRAM_STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
CONTENT_LAYER = "relu2_2"


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ||x - target||^2 / ||target||^2, averaged over the batch."""
    dims = tuple(range(1, x.dim()))
    err = (x.float() - target.float()).pow(2).mean(dim=dims)
    scale = target.float().pow(2).mean(dim=dims).clamp_min(1e-8)
    return (err / scale).mean()


def fp32_gram(feat: torch.Tensor) -> torch.Tensor:
    """The Gram matrix in float32 even under bf16 autocast: the style loss compares Grams to a few
    percent, bf16 keeps 3 significant digits, and the product is cheap next to the VGG's convs."""
    with torch.autocast(feat.device.type, enabled=False):
        return gram_matrix(feat.float())


def gram_targets(features: dict[str, torch.Tensor], layers=GRAM_STYLE_LAYERS) -> dict[str, torch.Tensor]:
    return {name: fp32_gram(features[name]) for name in layers}


def gram_style_terms(features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Relative Gram error of each layer; targets broadcast over the batch."""
    terms = {}
    for name, target in targets.items():
        g = fp32_gram(features[name])
        terms[name] = relative_mse(g, target.expand_as(g))
    return terms


def gram_style_loss(features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                    layer_weights: dict[str, float] | None = None) -> torch.Tensor:
    """Sum over layers of the relative Gram error, each layer times its weight (default 1).

    The layers see texture at different scales (a relu4_3 position sees 92 px of the frame, a
    relu1_2 position 5): lowering relu4_3's weight asks less for the painting's large motifs."""
    weights = layer_weights or {}
    return sum(weights.get(name, 1.0) * term for name, term in gram_style_terms(features, targets).items())


def parse_layer_weights(text: str) -> dict[str, float]:
    """``"relu4_3=0.25,relu3_3=0.5"`` -> weights for those Gram style layers (the rest stay 1)."""
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in GRAM_STYLE_LAYERS:
            raise ValueError(f"'{item}' is not LAYER=WEIGHT with LAYER one of {', '.join(GRAM_STYLE_LAYERS)}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"'{value}' in '{item}' is not a number") from None
        if not weight >= 0.0:
            raise ValueError(f"layer weights must be >= 0, got {weight} for {name}")
        weights[name] = weight
    return weights


def content_loss(features: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                 layer: str = CONTENT_LAYER) -> torch.Tensor:
    return relative_mse(features[layer], targets[layer])


# ITU-R BT.601 luma weights on RGB in 0..1 (the training tensors are RGB, unlike the BGR frames).
_LUMA_RGB = (0.299, 0.587, 0.114)


def coarse_luminance(img01: torch.Tensor, factor: int) -> torch.Tensor:
    """The luminance of an RGB batch, box-averaged over ``factor`` x ``factor`` cells, as three
    equal channels for the VGG. Averaging erases strokes finer than a cell; grey removes the
    palette, which belongs to the style. The content loss between these of output and photo (the
    trainer's coarse-structure term) so charges what a net draws at the scale of a whole cell and
    more, a disc or an oval stamped over a flat wall, and hardly texture or colours."""
    luma = sum(w * img01[:, c:c + 1] for c, w in enumerate(_LUMA_RGB))
    return torch.nn.functional.avg_pool2d(luma, factor).expand(-1, 3, -1, -1)


_LAPLACE_3X3 = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def grey_laplacian(img01: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """The 3x3 Laplacian of the luminance of an RGB batch box-averaged over ``factor`` cells.

    Li et al. 2017 (Laplacian-steered style transfer) match this between output and photo so that
    edges, eyes and lettering survive the painting's strokes: the Laplacian sees where luminance
    bends, not its level, so the palette stays free; averaging first leaves strokes finer than a
    cell to the style."""
    luma = sum(w * img01[:, c:c + 1] for c, w in enumerate(_LUMA_RGB))
    if factor > 1:
        luma = torch.nn.functional.avg_pool2d(luma, factor)
    kernel = luma.new_tensor(_LAPLACE_3X3).view(1, 1, 3, 3)
    return torch.nn.functional.conv2d(luma, kernel)


def structure_loss(output01: torch.Tensor, photo01: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Relative error of :func:`grey_laplacian` of the output against the photo's."""
    with torch.autocast(output01.device.type, enabled=False):
        return relative_mse(grey_laplacian(output01.float(), factor), grey_laplacian(photo01.float(), factor))


def mean_std_style_loss(features: dict[str, torch.Tensor], style_features: dict[str, torch.Tensor],
                        layers) -> torch.Tensor:
    """AdaIN's style loss (Huang & Belongie eq. 12) on channel mean and std, made relative."""
    total = 0.0
    for name in layers:
        m, s = channel_mean_std(features[name].float())
        tm, ts = channel_mean_std(style_features[name].float())
        total = total + relative_mse(m, tm) + relative_mse(s, ts)
    return total


def total_variation(img: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels (anisotropic TV), image in 0..1."""
    dh = (img[..., 1:, :] - img[..., :-1, :]).abs().mean()
    dw = (img[..., :, 1:] - img[..., :, :-1]).abs().mean()
    return dh + dw


def load_loss_network(weights_path, layers=GRAM_STYLE_LAYERS + (CONTENT_LAYER,)) -> VGG16Features:
    """The VGG-16 loss network with the taps these losses read by default (Gram style + content)."""
    return load_vgg16(weights_path, layers)
