"""AdaIN arbitrary style transfer (Huang & Belongie 2017) on the VGG-16 encoder we have.

The paper uses VGG-19 to relu4_1; ../shared only has VGG-16, so the encoder stops at VGG-16's
relu4_1 and the decoder mirrors VGG-16 (three convs in block 3 instead of four).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import adain, channel_mean_std
from .vgg import VGG16Features


class _ReflectConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, relu: bool = True):
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class _Upsample(nn.Module):
    """Nearest-neighbour x2; the paper's choice over transposed convs to avoid checkerboards."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")


class AdaINDecoder(nn.Module):
    """Mirror of VGG-16 up to relu4_1; output RGB in 0..1 (unclamped)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            _ReflectConv(512, 256), _Upsample(),
            _ReflectConv(256, 256), _ReflectConv(256, 256), _ReflectConv(256, 128), _Upsample(),
            _ReflectConv(128, 128), _ReflectConv(128, 64), _Upsample(),
            _ReflectConv(64, 64), _ReflectConv(64, 3, relu=False),
        )

    # The VGG-16 here has Caffe-scale activations (relu4_1 in the hundreds); scaling them to O(1)
    # lets the decoder start from a sane output range instead of spending steps unlearning it.
    FEATURE_SCALE = 0.01

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.body(features * self.FEATURE_SCALE)


STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def make_encoder() -> VGG16Features:
    """VGG-16 taps the AdaIN losses need; relu4_1 is the AdaIN bottleneck."""
    return VGG16Features(STYLE_LAYERS)


class AdaINContentNet(nn.Module):
    """The per-frame path: encode content, re-normalise to given style stats, decode.

    The style's mean/std are inputs so the style image is encoded once per style, not per frame.
    Input RGB 0..255 (like every livestyle graph), output RGB 0..255.
    """

    def __init__(self, encoder: VGG16Features, decoder: AdaINDecoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, rgb255: torch.Tensor) -> torch.Tensor:
        return self.encoder(rgb255 / 255.0)["relu4_1"]

    def stylize_features(self, rgb255: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
                         alpha: torch.Tensor) -> torch.Tensor:
        """Content features re-normalised to the style, mixed with the originals by ``alpha``.

        This is where the runtime splits the net: temporal blending works on these features.
        """
        content = self.encode(rgb255)
        target = adain(content, style_mean, style_std)
        return alpha * target + (1 - alpha) * content

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(features) * 255.0

    def forward(self, rgb255: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
                alpha: torch.Tensor) -> torch.Tensor:
        return self.decode(self.stylize_features(rgb255, style_mean, style_std, alpha))


class AdaINStyleEncoder(nn.Module):
    """Style image -> per-channel mean and std of its relu4_1 features (run once per style)."""

    def __init__(self, encoder: VGG16Features):
        super().__init__()
        self.encoder = encoder

    def forward(self, rgb255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return channel_mean_std(self.encoder(rgb255 / 255.0)["relu4_1"])
