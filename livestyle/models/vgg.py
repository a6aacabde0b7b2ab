"""VGG-16 feature extractor used as the loss network (Johnson, Gatys) and the AdaIN encoder.

Two weight files fit it. The one in ../shared is the original Caffe VGG-16 with the Caffe
preprocessing folded into conv1_1, so the net takes torchvision-normalised RGB, keys ``'0.weight'``...
torchvision's ImageNet file (``vgg16-397923af.pth``) has keys ``'features.0.weight'``... and the
classifier. Both take the same input; activations of the Caffe net are on a much larger scale than
torchvision's, which is why losses.py makes every layer's loss relative.
"""

from __future__ import annotations

import torch
import torch.nn as nn

# Index of each ReLU output in torchvision's vgg16().features.
LAYER_INDEX = {
    "relu1_1": 1, "relu1_2": 3,
    "relu2_1": 6, "relu2_2": 8,
    "relu3_1": 11, "relu3_2": 13, "relu3_3": 15,
    "relu4_1": 18, "relu4_2": 20, "relu4_3": 22,
}

_CONV_PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _vgg16_features(last_index: int) -> nn.Sequential:
    """torchvision's vgg16().features layout (same indices), cut after ``last_index``."""
    layers: list[nn.Module] = []
    cin = 3
    for v in _CONV_PLAN:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
            cin = v
    return nn.Sequential(*layers[: last_index + 1])


TORCHVISION_PREFIX = "features."


def is_torchvision_state_dict(state_dict: dict) -> bool:
    """Whether a VGG-16 state dict is torchvision's (``features.N.*`` and ``classifier.*`` keys)."""
    return any(k.startswith(TORCHVISION_PREFIX) for k in state_dict)


def features_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The conv layers as ``'<index>.weight'`` / ``'<index>.bias'`` of torchvision's ``features``:
    the shared file's keys as they are, torchvision's with ``features.`` stripped and the
    classifier left out."""
    if not is_torchvision_state_dict(state_dict):
        return dict(state_dict)
    n = len(TORCHVISION_PREFIX)
    return {k[n:]: v for k, v in state_dict.items() if k.startswith(TORCHVISION_PREFIX)}


class VGG16Features(nn.Module):
    """Frozen VGG-16 that returns the named ReLU activations for RGB input in 0..1."""

    def __init__(self, layers: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")):
        super().__init__()
        unknown = [name for name in layers if name not in LAYER_INDEX]
        if unknown:
            raise ValueError(f"unknown VGG-16 layer(s) {unknown}; choose from {sorted(LAYER_INDEX)}")
        self.layers = tuple(layers)
        self._taps = {LAYER_INDEX[name]: name for name in layers}
        self.features = _vgg16_features(max(self._taps))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def load_shared_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load either weight file (:func:`features_state_dict`), keeping only the layers used."""
        features = features_state_dict(state_dict)
        keep = {k: v.float() for k, v in features.items() if int(k.split(".")[0]) < len(self.features)}
        self.features.load_state_dict(keep)

    def forward(self, rgb01: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (rgb01 - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._taps:
                out[self._taps[i]] = x
        return out
