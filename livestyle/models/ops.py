"""Tensor functions shared by the models, losses and runtime (AdaIN, feature statistics, Gram)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def channel_mean_std(feat: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation, shaped [N, C, 1, 1].

    eps is added to the variance (not the std) so the gradient stays finite on flat regions.
    The statistics are computed in float32 and returned in the input's dtype: the Caffe-scale
    VGG-16's relu4_1 variance reaches about 4e6, past fp16's largest value (65504), so in an fp16
    graph the style statistics came out infinite (seen in the VGG AdaIN export).
    """
    n, c = feat.shape[:2]
    flat = feat.reshape(n, c, -1).float()
    mean = flat.mean(dim=2).reshape(n, c, 1, 1)
    std = (flat.var(dim=2, unbiased=False) + eps).sqrt().reshape(n, c, 1, 1)
    return mean.to(feat.dtype), std.to(feat.dtype)


def adain(content: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation (Huang & Belongie 2017, eq. 8).

    Re-normalises each channel of ``content`` to the given style mean and std.
    """
    c_mean, c_std = channel_mean_std(content)
    return (content - c_mean) / c_std * style_std + style_mean


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix normalised by C*H*W (Gatys et al. 2016 / Johnson et al. 2016)."""
    n, c, h, w = feat.shape
    flat = feat.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def pad_same_stride2(x: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """TensorFlow 'SAME' padding for a stride-2 conv on an even-sized input.

    TF puts the odd pixel of padding at the end: total = kernel - 2, before = total // 2.
    The runtime pads frames to multiples of 4, so inputs here are always even.
    """
    total = kernel - 2
    before = total // 2
    return F.pad(x, (before, total - before, before, total - before))


def init_variance_preserving(module: nn.Module) -> None:
    """He init for every conv that feeds a ReLU, unit gain for depthwise convs (a pointwise conv
    and a ReLU follow them).

    PyTorch's default init shrinks the signal at each layer; through the ten-layer separable
    decoder of models/adain_light.py an untrained net's output came out nearly flat grey, and the
    first few hundred steps barely moved the content loss.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            if m.groups > 1 and m.groups == m.in_channels:
                nn.init.normal_(m.weight, std=(1.0 / (m.kernel_size[0] * m.kernel_size[1])) ** 0.5)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


UPSAMPLE = "up"   # a nearest x2 upsampling in a list of unpadded layers (see margin_after)


def margin_after(margin: int, layers) -> int:
    """Border pixels left around the frame after unpadded ``layers``: each is UPSAMPLE (the border
    doubles) or the number of pixels a conv eats off every side (``kernel // 2``). Negative: the
    border ran out and the frame's edge pixels are wrong."""
    for layer in layers:
        margin = 2 * margin if layer == UPSAMPLE else margin - layer
    return margin
