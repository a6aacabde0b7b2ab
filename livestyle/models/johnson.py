"""Feed-forward style transfer nets (Johnson et al. 2016): livestyle's own and Engstrom's.

* :class:`TransformerNet` is what livestyle trains: instance norms, residual blocks and
  nearest-upsample + conv decoding (Odena et al. 2016: no checkerboard). A
  :class:`TransformerConfig` sets its shape; the named ones are ``FULL_CONFIG`` (Johnson et al.'s
  net, reflection pads before each conv), ``THIN_CONFIG`` (thin, depthwise-separable, for CPUs)
  and the distillation students ``SLIM_CONFIG``, ``SLIM8_CONFIG`` and ``DEEP8_CONFIG`` (one
  reflection border around the frame, fewer norms; the last two downsample to 1/8).
* :class:`EngstromNet` reproduces lengstrom/fast-style-transfer exactly (zero 'SAME' padding,
  transposed convs, tanh output) so its published checkpoints load bit-for-bit.

Both take RGB in 0..255, NCHW, and expose ``encode`` (to the residual features at the net's
coarsest resolution) and ``decode`` so the runtime can blend features between video frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import UPSAMPLE, init_variance_preserving, margin_after, pad_same_stride2


# --------------------------------------------------------------------------- livestyle's own net


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture of a :class:`TransformerNet`; saved next to the weights in checkpoints."""

    # Channels at full resolution, then after each stride-2 conv: (32, 64, 128) is Johnson et al.'s
    # two downsamplings to 1/4; a fourth width adds a third, to 1/8 (larger strokes per conv).
    widths: tuple[int, ...] = (32, 64, 128)
    num_residual: int = 5
    edge_kernel: int = 9
    separable: bool = False
    # The RGB-out conv as a depthwise conv then a 1x1 to RGB. ONNX Runtime's blocked layout pads a
    # conv's output channels to its block (16 with AVX-512), so a dense 3x3 to 3 channels costs as
    # much as one to 16; at full resolution that was a fifth of a deep8 student's frame time.
    separable_out: bool = False
    # Instance norms (Ulyanov et al.) after every conv ("instance", Johnson et al.), after some
    # (NORM_PLACES) or none. ONNX Runtime cannot run instance norm or reflection pads in its
    # blocked layout, so each costs a layout round trip on a CPU, a large share of a fast net's
    # kernel time (profile in docs/performance.md).
    norm: str = "instance"
    # > 0: zero padding inside the net and one reflection border of this many pixels around the
    # frame (a multiple of the total stride), cropped off the output, instead of a reflection pad
    # before each conv.
    border: int = 0

    @property
    def stride(self) -> int:
        """Total downsampling: frame sides must be multiples of it."""
        return 2 ** (len(self.widths) - 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TransformerConfig":
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        return cls(**d)


FULL_CONFIG = TransformerConfig()
# About 1/8 of the full net's arithmetic: thinner, fewer blocks, separable 3x3 convs, sized for
# real-time 640x360 video on a small CPU (timings in docs/performance.md).
THIN_CONFIG = TransformerConfig(widths=(16, 32, 64), num_residual=4, edge_kernel=5, separable=True)
# The thin net built like livestyle's light arbitrary-style net, for distillation students: zero
# padding inside one reflection border, 3x3 edge convs, instance norms in the encoder only. Its
# graph runs faster than THIN_CONFIG's in ONNX Runtime on a CPU; with no norms at all it is faster
# still, but such a student stayed grey (speeds and held-out errors: docs/training.md, "Light
# fixed-style students").
SLIM_CONFIG = TransformerConfig(widths=(16, 32, 64), num_residual=4, edge_kernel=3, separable=True,
                                 norm="instance-encoder", border=32)
# The slim student with a third downsampling: its residual blocks run at 1/8 with 96 channels,
# so it has more weights and twice the reach of SLIM_CONFIG, and its graph runs a little faster
# (`tools/bench_designs.py`; docs/training.md, "A student that downsamples three times"). Udnie's
# large planes and the relu4_3 Gram term are what the 1/4 student could not learn.
SLIM8_CONFIG = TransformerConfig(widths=(16, 32, 64, 96), num_residual=4, edge_kernel=3, separable=True,
                                  norm="instance-encoder", border=32)
# slim8 with its instance norms moved off the full-resolution edge conv into the downsampling convs
# and the 1/8 blocks, where a norm's pass over the frame costs little, and 128 channels at 1/8:
# every slim8 udnie student stopped at about twice its teacher's style loss (docs/training.md,
# "Norms where they are cheap"). A little slower than slim8 (`tools/bench_designs.py`).
DEEP8_CONFIG = TransformerConfig(widths=(16, 32, 64, 128), num_residual=4, edge_kernel=3, separable=True,
                                 norm="instance-deep", border=32)
# deep8 with its RGB-out conv separable too (``separable_out``): the same reach, fewer weights in
# the last layer, and a cheaper last layer in ONNX Runtime (docs/performance.md).
DEEP8S_CONFIG = replace(DEEP8_CONFIG, separable_out=True)


class ConvLayer(nn.Module):
    """A conv padded as ``pad`` says: 'reflect' (a reflection pad first: it keeps borders free of
    the dark frame zero padding makes), 'zero' (zero padding in the conv, for nets that reflect one
    border around the whole frame: ``TransformerConfig.border``) or 'none' (the output is smaller by
    ``kernel // 2`` on each side)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, separable: bool = False,
                 pad: str = "reflect"):
        super().__init__()
        if pad not in PADDINGS:
            raise ValueError(f"pad must be one of {PADDINGS}, got {pad!r}")
        self.pad = nn.ReflectionPad2d(kernel // 2) if pad == "reflect" else nn.Identity()
        padding = kernel // 2 if pad == "zero" else 0
        if separable and kernel > 1 and cin > 3:
            self.conv = nn.Sequential(
                nn.Conv2d(cin, cin, kernel, stride, padding=padding, groups=cin, bias=False),
                nn.Conv2d(cin, cout, 1),
            )
        else:
            self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


# Where each norm setting puts instance norms: the edge conv (full resolution), the stride-2
# downsampling convs, the residual blocks (coarsest resolution) and the upsampling convs. Fewer
# norms run faster in ONNX Runtime but learn a teacher that has them everywhere more slowly;
# measured for the slim students in docs/training.md (a teacher's instance norms adapt its strokes
# to each frame's contrast, which a student without any cannot follow: its output stays grey).
NORM_PLACES = {"instance": {"edge", "down", "res", "up"}, "instance-encoder": {"edge", "down"},
               "instance-deep": {"down", "res"}, "none": set()}
PADDINGS = ("reflect", "zero", "none")


class ConvNormReLU(nn.Sequential):
    """Conv (separable and padded as ``config`` says), a norm where ``config.norm`` puts one at
    ``place`` (edge, down, res or up), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, config: TransformerConfig, stride: int = 1,
                 relu: bool = True, place: str = "res", pad: str | None = None):
        pad = pad or ("zero" if config.border else "reflect")
        layers = [ConvLayer(cin, cout, kernel, stride, config.separable, pad)]
        if place in NORM_PLACES[config.norm]:
            layers.append(nn.InstanceNorm2d(cout, affine=True))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut (He et al. 2016), as in Johnson et al.'s supplement."""

    def __init__(self, channels: int, config: TransformerConfig):
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3, config),
            ConvNormReLU(channels, channels, 3, config, relu=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConvLayer(nn.Module):
    """Nearest upsampling then conv: replaces transposed convs, which leave checkerboard patterns."""

    def __init__(self, cin: int, cout: int, kernel: int, config: TransformerConfig, pad: str | None = None):
        super().__init__()
        self.conv = ConvNormReLU(cin, cout, kernel, config, place="up", pad=pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransformerNet(nn.Module):
    """Image transformation net of Johnson et al. 2016, RGB 0..255 in and out (unclamped)."""

    def __init__(self, config: TransformerConfig = FULL_CONFIG):
        super().__init__()
        if config.norm not in NORM_PLACES:
            raise ValueError(f"norm must be one of {tuple(NORM_PLACES)}, got {config.norm!r}")
        if len(config.widths) < 3:
            raise ValueError(f"widths needs at least 3 entries (two downsamplings), got {config.widths}")
        if config.border % config.stride:
            raise ValueError(f"border must be a multiple of {config.stride}, got {config.border}")
        self.config = config
        w, c = config.widths, config
        self.encoder = nn.Sequential(
            ConvNormReLU(3, w[0], config.edge_kernel, c, place="edge"),   # RGB in: too few channels to separate
            *[ConvNormReLU(a, b, 3, c, stride=2, place="down") for a, b in zip(w, w[1:])],
            *[ResidualBlock(w[-1], c) for _ in range(config.num_residual)],
        )
        # With a border the decoder's convs are unpadded ("valid"): ``decode`` hands them the frame
        # plus the margin they eat, so they never compute the border (see ``decode``).
        up_pad = "none" if config.border else None
        self.decoder = nn.Sequential(
            *[UpsampleConvLayer(a, b, 3, c, pad=up_pad) for a, b in zip(w[::-1], w[-2::-1])],
            ConvLayer(w[0], 3, config.edge_kernel, separable=config.separable_out, pad=up_pad or "reflect"),
        )
        if "res" not in NORM_PLACES[config.norm]:
            self._init_without_norms()

    def _init_without_norms(self) -> None:
        """Without norms nothing rescales the signal: variance-preserving init, residual branches
        that start as zero (each block begins as the identity), output starting near mid-grey."""
        init_variance_preserving(self)
        for block in self.encoder:
            if isinstance(block, ResidualBlock):
                last = [m for m in block.body.modules() if isinstance(m, nn.Conv2d)][-1]
                nn.init.zeros_(last.weight)
        out = [m for m in self.decoder[-1].modules() if isinstance(m, nn.Conv2d)][-1]
        out.weight.data.mul_(0.1)
        nn.init.constant_(out.bias, 0.45)

    # Inputs are scaled to 0..1 inside the net so fp16 activations stay small;
    # outputs are scaled back so every livestyle graph speaks RGB 0..255.
    # Features carry the frame's reflection border (if any); ``decode`` removes it.
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        b = self.config.border
        x = x / 255.0
        return self.encoder(F.pad(x, (b, b, b, b), mode="reflect") if b else x)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        b = self.config.border
        if not b:
            return self.decoder(features) * 255.0
        # The decoder has no norms, so each output pixel depends on a few features around it only:
        # it is given the frame plus the margin its unpadded convs eat, not the whole border. That
        # is the same frame as zero-padded convs on the bordered features cropped at the end, for
        # about a fifth less of its work, and no crop between its layers (a crop would take
        # onnxruntime's convs out of their blocked layout and back, which costs as much).
        cells, extra = self.decoder_margin()
        x = features[..., cells:features.shape[-2] - cells, cells:features.shape[-1] - cells]
        y = self.decoder(x) * 255.0
        return y[..., extra:y.shape[-2] - extra, extra:y.shape[-1] - extra] if extra else y

    def decoder_margin(self) -> tuple[int, int]:
        """(features cut off each side before the decoder, pixels cut off its output): the least
        margin of border cells its unpadded convs need to leave the whole frame."""
        stride, border_cells = self.config.stride, self.config.border // self.config.stride
        layers = [UPSAMPLE, 1] * (len(self.config.widths) - 1) + [self.config.edge_kernel // 2]
        for keep in range(1, border_cells + 1):
            margin = margin_after(keep, layers)
            if margin >= 0:
                return border_cells - keep, margin
        raise ValueError(f"a border of {self.config.border} px leaves the decoder too little margin; "
                         f"use a multiple of {stride} of at least {2 * stride}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def with_separable_out(state: dict, config: TransformerConfig) -> dict:
    """A dense-RGB-out net's weights (``state``, its ``config``) for the same net with
    ``separable_out``: each input channel's [3, k, k] slice of the dense kernel becomes its best
    rank-one product, a depthwise kernel times a column of the 1x1 conv. A warm start, not the
    same net: the part of the kernel beyond rank one is for training to give back."""
    head = f"decoder.{len(config.widths) - 1}.conv"
    dense = state[f"{head}.weight"].float()                      # [3, C, k, k]
    out, cin, k, _ = dense.shape
    u, s, vh = torch.linalg.svd(dense.permute(1, 0, 2, 3).reshape(cin, out, k * k))   # one per channel
    root = s[:, 0].sqrt()
    new = {name: v for name, v in state.items() if not name.startswith(head + ".")}
    new[f"{head}.0.weight"] = (vh[:, 0, :] * root[:, None]).reshape(cin, 1, k, k)
    new[f"{head}.1.weight"] = (u[:, :, 0] * root[:, None]).T.reshape(out, cin, 1, 1).contiguous()
    new[f"{head}.1.bias"] = state[f"{head}.bias"].float()
    return new


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
