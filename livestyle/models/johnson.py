"""Feed-forward style transfer nets (Johnson et al. 2016) in two flavours.

* :class:`TransformerNet` is what livestyle trains: reflection padding, instance norm,
  residual blocks and nearest-upsample + conv decoding (Odena et al. 2016: no checkerboard),
  with an optional depthwise-separable "fast" configuration for CPUs.
* :class:`EngstromNet` reproduces lengstrom/fast-style-transfer exactly (zero 'SAME' padding,
  transposed convs, tanh output) so its published checkpoints load bit-for-bit.

Both take RGB in 0..255, NCHW, and expose ``encode`` (to the 1/4-resolution residual features)
and ``decode`` so the runtime can blend features between video frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import pad_same_stride2


# --------------------------------------------------------------------------- livestyle's own net


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture of a :class:`TransformerNet`; saved next to the weights in checkpoints."""

    widths: tuple[int, int, int] = (32, 64, 128)
    num_residual: int = 5
    edge_kernel: int = 9
    separable: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TransformerConfig":
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        return cls(**d)


FULL_CONFIG = TransformerConfig()
# About 1/8 of the full net's arithmetic: thinner, fewer blocks, separable 3x3 convs.
# Chosen so 640x360 runs in real time on two CPU cores (see docs/performance.md).
FAST_CONFIG = TransformerConfig(widths=(16, 32, 64), num_residual=4, edge_kernel=5, separable=True)


class ConvLayer(nn.Module):
    """Reflection-padded conv: reflection keeps borders free of the dark frame zero padding makes."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, separable: bool = False):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        if separable and kernel > 1 and cin > 3:
            self.conv = nn.Sequential(
                nn.Conv2d(cin, cin, kernel, stride, groups=cin, bias=False),
                nn.Conv2d(cin, cout, 1),
            )
        else:
            self.conv = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class ConvNormReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, separable: bool = False,
                 relu: bool = True):
        layers = [ConvLayer(cin, cout, kernel, stride, separable), nn.InstanceNorm2d(cout, affine=True)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut (He et al. 2016), as in Johnson et al.'s supplement."""

    def __init__(self, channels: int, separable: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3, separable=separable),
            ConvNormReLU(channels, channels, 3, separable=separable, relu=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConvLayer(nn.Module):
    """Nearest upsampling then conv: replaces transposed convs, which leave checkerboard patterns."""

    def __init__(self, cin: int, cout: int, kernel: int, separable: bool = False):
        super().__init__()
        self.conv = ConvNormReLU(cin, cout, kernel, separable=separable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransformerNet(nn.Module):
    """Image transformation net of Johnson et al. 2016, RGB 0..255 in and out (unclamped)."""

    def __init__(self, config: TransformerConfig = FULL_CONFIG):
        super().__init__()
        self.config = config
        w1, w2, w3 = config.widths
        sep = config.separable
        self.encoder = nn.Sequential(
            ConvNormReLU(3, w1, config.edge_kernel),
            ConvNormReLU(w1, w2, 3, stride=2, separable=sep),
            ConvNormReLU(w2, w3, 3, stride=2, separable=sep),
            *[ResidualBlock(w3, separable=sep) for _ in range(config.num_residual)],
        )
        self.decoder = nn.Sequential(
            UpsampleConvLayer(w3, w2, 3, separable=sep),
            UpsampleConvLayer(w2, w1, 3, separable=sep),
            ConvLayer(w1, 3, config.edge_kernel),
        )

    # Inputs are scaled to 0..1 inside the net so fp16 activations stay small;
    # outputs are scaled back so every livestyle graph speaks RGB 0..255.
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x / 255.0)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(features) * 255.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


# --------------------------------------------------------------------------- Engstrom-compatible


class _TFConv(nn.Module):
    """Conv + instance norm (eps 1e-3, as TF's moments-based norm) with TF 'SAME' zero padding."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = True):
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv = nn.Conv2d(cin, cout, kernel, stride, bias=False)
        self.norm = nn.InstanceNorm2d(cout, affine=True, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            p = self.kernel // 2
            x = F.pad(x, (p, p, p, p))
        else:
            x = pad_same_stride2(x, self.kernel)
        x = self.norm(self.conv(x))
        return F.relu(x) if self.relu else x


class _TFResidual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.c1 = _TFConv(channels, channels, 3)
        self.c2 = _TFConv(channels, channels, 3, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(self.c1(x))


class _TFUpConv(nn.Module):
    """TF conv2d_transpose with 'SAME' padding, stride 2: full transposed conv cropped to 2H x 2W."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=0, bias=False)
        self.norm = nn.InstanceNorm2d(cout, affine=True, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        y = self.conv(x)[..., : 2 * h, : 2 * w]
        return F.relu(self.norm(y))


class EngstromNet(nn.Module):
    """lengstrom/fast-style-transfer's transform net; state-dict keys match ../shared's conversion.

    H and W must be multiples of 4 for exact TF behaviour (the stylizer pads to that).
    """

    def __init__(self):
        super().__init__()
        self.conv1 = _TFConv(3, 32, 9)
        self.conv2 = _TFConv(32, 64, 3, stride=2)
        self.conv3 = _TFConv(64, 128, 3, stride=2)
        for i in range(1, 6):
            setattr(self, f"res{i}", _TFResidual(128))
        self.up1 = _TFUpConv(128, 64)
        self.up2 = _TFUpConv(64, 32)
        self.conv_out = _TFConv(32, 3, 9, relu=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3(self.conv2(self.conv1(x)))
        for i in range(1, 6):
            x = getattr(self, f"res{i}")(x)
        return x

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        y = self.conv_out(self.up2(self.up1(features)))
        return torch.tanh(y) * 150.0 + 127.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
