"""livestyle's light arbitrary-style net: a small student encoder, AdaIN, a small decoder.

The VGG-16 is only the teacher and the loss network while training (training/adain_light.py);
nothing of it is needed to run this net, so its weights are wholly livestyle's own.

Recipe (facts from the papers, our own code):
* Student encoder at about 1/4 of VGG's widths up to relu4_1, with 1x1 linear "heads" that lift
  each tap to the teacher's channel count for feature distillation (Wang et al., Collaborative
  Distillation, CVPR 2020). The heads are training-only and never exported.
* Depthwise-separable 3x3 convs everywhere past the first layer (MicroAST, Wang et al. AAAI 2023;
  they make our own fast Johnson nets several times faster on a CPU, docs/performance.md).
* Decoder without normalisation layers (they would undo the statistics AdaIN just set) and
  nearest upsampling + conv instead of transposed convs (no checkerboard).
* Optional skip at 1/4 resolution (``skip=True``): the encoder's 1/4 tap, instance-normalised so
  it carries where edges are but not the photo's colours or contrast, narrowed to SKIP_WIDTH
  channels, joins the decoder there through a zero-initialised 1x1 conv. AdaIN alone passes the
  frame through 1/8-resolution features, where an eye or a letter is a pixel or two, and the
  decoder smears them. The skip travels inside the one feature tensor between the encoder and
  decoder graphs (pixel-unshuffled to 1/8), so the runtime's graph interface is the same with and
  without it; narrowing it first keeps that tensor, which crosses memory twice a frame, small.
* Zero padding inside the net and one reflection border around the frame instead of a
  reflection pad before every conv: onnxruntime runs each Pad as its own pass and leaves its
  blocked (NCHWc) layout around it; so one border makes the whole graph much faster on a CPU
  (docs/performance.md), while it keeps the frame's edges free of zero-padding darkening.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import UPSAMPLE, adain, channel_mean_std, init_variance_preserving, margin_after

# The VGG-16 taps the student mirrors, with the teacher's channel counts.
TEACHER_TAPS = (("relu1_1", 64), ("relu2_1", 128), ("relu3_1", 256), ("relu4_1", 512))
DEPTH = 8   # the deepest features are at 1/8 resolution: frame sides must divide by 8
SKIP_WIDTH = 16   # channels of the 1/4-resolution structure skip


@dataclass(frozen=True)
class AdaINLightConfig:
    """Architecture of a :class:`AdaINLightNet`; saved beside the weights in checkpoints."""

    widths: tuple[int, int, int, int] = (16, 32, 64, 128)
    # Reflection border around the frame, a multiple of DEPTH. Zero padding reaches about 4
    # feature pixels into the 1/8-resolution layers (32 px of the frame); with an 8 px border the
    # net drew a rectangular frame 10-20 px inside every output (seen in the training samples).
    border: int = 32
    skip: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AdaINLightConfig":
        return cls(widths=tuple(d["widths"]), border=d.get("border", 32), skip=d.get("skip", False))

    @property
    def feature_channels(self) -> int:
        """Channels of the tensor between the encoder and decoder graphs."""
        return self.widths[3] + (4 * SKIP_WIDTH if self.skip else 0)


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 (optionally strided), pointwise 1x1, optional ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1, relu: bool = True, padding: int = 1):
        layers: list[nn.Module] = [nn.Conv2d(cin, cin, 3, stride, padding=padding, groups=cin, bias=False),
                                   nn.Conv2d(cin, cout, 1)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class PlainConv(nn.Sequential):
    """Dense 3x3 conv + ReLU; for the RGB input, which has too few channels to separate."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))


class Upsample2x(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")


class LightEncoder(nn.Module):
    """RGB 0..1 -> four taps at 1, 1/2, 1/4 and 1/8 resolution, like VGG's relu1_1..relu4_1."""

    def __init__(self, widths: tuple[int, int, int, int]):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.stages = nn.ModuleList([
            PlainConv(3, w1),
            SeparableConv(w1, w2, stride=2),
            nn.Sequential(SeparableConv(w2, w3, stride=2), SeparableConv(w3, w3)),
            nn.Sequential(SeparableConv(w3, w4, stride=2), SeparableConv(w4, w4)),
        ])
        self.register_buffer("mean", torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1), persistent=False)

    def taps(self, rgb01: torch.Tensor) -> list[torch.Tensor]:
        x = (rgb01 - self.mean) / self.std
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        return self.taps(rgb01)[-1]


SKIP_JOIN = 4   # the decoder layers before the skip joins: they end at 1/4 resolution with w3 channels


class LightDecoder(nn.Module):
    """Mirror of the encoder: deepest features (and the optional 1/4 skip) -> RGB 0..1 (unclamped).

    ``unpadded``: its convs take no padding, so each eats a pixel off every side (``margin``); a
    net with a border hands it the frame with enough of the border around it (see
    :meth:`AdaINLightNet.decode_unit`)."""

    def __init__(self, widths: tuple[int, int, int, int], skip: bool = False, unpadded: bool = False):
        super().__init__()
        w1, w2, w3, w4 = widths
        p = 0 if unpadded else 1
        self.body = nn.Sequential(
            # Depth where it is cheap (1/8 and 1/4 resolution); at full resolution one thin layer.
            SeparableConv(w4, w4, padding=p), SeparableConv(w4, w4, padding=p), Upsample2x(),
            SeparableConv(w4, w3, padding=p), SeparableConv(w3, w3, padding=p), Upsample2x(),
            SeparableConv(w3, w2, padding=p), SeparableConv(w2, w1, padding=p), Upsample2x(),
            SeparableConv(w1, 3, relu=False, padding=p),
        )
        self.skip = nn.Conv2d(SKIP_WIDTH, w3, 1) if skip else None
        self.unpadded = unpadded

    def margin(self, cells: int) -> tuple[int, int]:
        """Given features with ``cells`` of border at 1/8: (border left at 1/4 where the skip joins,
        border left around the output), in pixels of those resolutions."""
        layers = [UPSAMPLE if isinstance(layer, Upsample2x) else int(self.unpadded) for layer in self.body]
        return margin_after(cells, layers[:SKIP_JOIN]), margin_after(cells, layers)

    def forward(self, features: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if self.skip is None:
            return self.body(features)
        x = self.body[:SKIP_JOIN](features)
        cut = (skip.shape[-1] - x.shape[-1]) // 2    # the skip keeps its whole border
        if cut:
            skip = skip[..., cut:skip.shape[-2] - cut, cut:skip.shape[-1] - cut]
        return self.body[SKIP_JOIN:](x + self.skip(skip))


class DistillationHeads(nn.Module):
    """1x1 convs lifting the student taps to the teacher's channel counts (training only)."""

    def __init__(self, widths: tuple[int, int, int, int]):
        super().__init__()
        self.heads = nn.ModuleList([nn.Conv2d(w, c, 1) for w, (_, c) in zip(widths, TEACHER_TAPS)])

    def forward(self, taps: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: head(t) for (name, _), head, t in zip(TEACHER_TAPS, self.heads, taps)}


class AdaINLightNet(nn.Module):
    """Encoder + decoder; RGB 0..255 in and out, like every livestyle graph.

    The method names match :class:`~livestyle.models.adain.AdaINContentNet` so the export and
    runtime treat both arbitrary-style nets alike: ``stylize_features`` is the per-frame encoder
    graph (style mean/std and alpha as inputs), ``decode`` the decoder graph, ``style_stats`` the
    once-per-painting graph. Features carry the frame's reflection border; ``decode`` removes it.
    """

    def __init__(self, config: AdaINLightConfig = AdaINLightConfig()):
        super().__init__()
        if config.border % DEPTH:
            raise ValueError(f"border must be a multiple of {DEPTH}, got {config.border}")
        self.config = config
        self.encoder = LightEncoder(config.widths)
        # Unpadded: the decoder has no norms, so each output pixel depends on a few features around
        # it only, and valid convs never compute the border the frame does not need: the same
        # frame as zero-padded convs over the whole border cropped at the end, for less work where
        # the decoder is widest (full and half resolution). Crops between layers would do the
        # same but take onnxruntime's convs out of their blocked layout and back, which costs as much.
        self.decoder = LightDecoder(config.widths, config.skip, unpadded=config.border > 0)
        if self.decoder.margin(config.border // DEPTH)[1] < 0:
            raise ValueError(f"a border of {config.border} px is too narrow for the decoder")
        self.skip_in = nn.Conv2d(config.widths[2], SKIP_WIDTH, 1) if config.skip else None
        init_variance_preserving(self)
        # Start the output near mid-grey rather than black, where VGG features are weakest.
        nn.init.constant_(self.decoder.body[-1][-1].bias, 0.45)
        if self.decoder.skip is not None:
            # A zero skip leaves a warm-started net's output as it was until training uses it.
            nn.init.zeros_(self.decoder.skip.weight)
            nn.init.zeros_(self.decoder.skip.bias)

    def with_border(self, rgb01: torch.Tensor) -> torch.Tensor:
        b = self.config.border
        return F.pad(rgb01, (b, b, b, b), mode="reflect")

    def without_border(self, x: torch.Tensor, scale: int = 1) -> torch.Tensor:
        b = self.config.border // scale
        return x[..., b:x.shape[-2] - b, b:x.shape[-1] - b]

    def student_taps(self, rgb01: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(taps cropped to the frame, for distillation; the same taps with their border)."""
        taps = self.encoder.taps(self.with_border(rgb01))
        return [self.without_border(t, 2 ** i) for i, t in enumerate(taps)], taps

    def encode(self, rgb255: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.with_border(rgb255 / 255.0))

    def style_stats(self, rgb255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return LightStyleEncoder(self)(rgb255)

    def with_skip(self, stylized: torch.Tensor, bordered_taps: list[torch.Tensor]) -> torch.Tensor:
        """The tensor the decoder graph takes: the AdaIN features, plus the packed skip."""
        if not self.config.skip:
            return stylized
        structure = self.skip_in(F.instance_norm(bordered_taps[2]))
        return torch.cat([stylized, F.pixel_unshuffle(structure, 2)], dim=1)

    def stylize_features(self, rgb255: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
                         alpha: torch.Tensor) -> torch.Tensor:
        taps = self.encoder.taps(self.with_border(rgb255 / 255.0))
        content = taps[-1]
        return self.with_skip(alpha * adain(content, style_mean, style_std) + (1 - alpha) * content, taps)

    def decode_unit(self, features: torch.Tensor) -> torch.Tensor:
        """Features -> RGB 0..1 at the frame's size (training works in 0..1)."""
        _, left = self.decoder.margin(self.config.border // DEPTH)
        if not self.config.skip:
            out = self.decoder(features)
        else:
            deep = self.config.widths[3]
            out = self.decoder(features[:, :deep], F.pixel_shuffle(features[:, deep:], 2))
        return out[..., left:out.shape[-2] - left, left:out.shape[-1] - left] if left else out

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.decode_unit(features) * 255.0

    def forward(self, rgb255: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor,
                alpha: torch.Tensor) -> torch.Tensor:
        return self.decode(self.stylize_features(rgb255, style_mean, style_std, alpha))


class LightStyleEncoder(nn.Module):
    """Painting (RGB 0..255) -> channel mean and std of the student's deepest features."""

    def __init__(self, net: AdaINLightNet):
        super().__init__()
        self.net = net

    def forward(self, rgb255: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return channel_mean_std(self.net.encode(rgb255))
