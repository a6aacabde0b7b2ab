"""Training livestyle's light arbitrary-style net (models/adain_light.py) with VGG-16 as teacher.

One task does both published stages at once, so every VGG-16 pass serves twice:
* feature distillation (Collaborative Distillation, Wang et al. 2020): the student's taps, lifted
  by 1x1 heads, match VGG's relu1_1..relu4_1 on photos and paintings;
* AdaIN training through the VGG-16 loss network (Huang & Belongie 2017): the output's relu4_1
  matches AdaIN(VGG(content), VGG(style)), and its channel mean/std at relu1_1..relu4_1 match the
  painting's. The target lives in the teacher's space, so the student cannot make the task easier
  by drifting.
``--stage decoder`` freezes the encoder (stage B alone); the default trains both (joint).

42 paintings are few for arbitrary style, so paintings are augmented hard: crops from a quarter
to all of the short side, flips, 90-degree turns, hue rotations, and pairs of paintings whose
statistics are mixed (the student's and the teacher's alike).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import atomic_save, load_vgg16, make_checkpoint
from ..models.adain_light import TEACHER_TAPS, DistillationHeads, AdaINLightConfig, AdaINLightNet
from ..models.ops import adain, channel_mean_std
from .adain import HELD_OUT_STYLES
from .data import ImageBank
from .losses import fp32_gram, relative_mse, structure_loss
from .samples import write_sample_grid

TEACHER_LAYERS = tuple(name for name, _ in TEACHER_TAPS)
ARCH = "adain_light"
CHECKPOINT_NAME = "adain_light.pt"
STAGES = ("joint", "decoder")


@dataclass
class AdaINLightSettings:
    image_size: int = 192
    batch_size: int = 8
    style_weight: float = 2.5
    content_weight: float = 1.0
    distill_weight: float = 5.0
    stage: str = "joint"
    mix_fraction: float = 0.25   # share of a batch whose style is a mix of two paintings
    hue_fraction: float = 0.5    # share of paintings whose hue is rotated
    # Share of a batch styled with its own photo: the AdaIN target is then the photo's own VGG
    # features, which teaches reconstruction (what --alpha 0 shows) and pulls content in early.
    identity_fraction: float = 0.125
    # Gram loss on the teacher's taps beside the mean/std loss: AdaIN's statistics carry no
    # channel correlations, so strokes and their colours pairing up is learnt only from this.
    gram_weight: float = 0.0
    # Laplacian of the grey output against the photo's at half size (losses.structure_loss):
    # AdaIN's content target lives at 1/8 resolution, where eyes and edges are a pixel or two.
    structure_weight: float = 0.0
    ema_decay: float = 0.0
    seed: int = 0
    # Paintings never trained on (file stems), so that quality can be judged on unseen art.
    held_out: tuple[str, ...] = HELD_OUT_STYLES


def rotate_hue(rgb01: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each image's hue by ``angles`` (radians) in YIQ space; luma is kept."""
    with torch.autocast(rgb01.device.type, enabled=False):   # data, not the net: full precision
        return _rotate_hue(rgb01.float(), angles)


def _rotate_hue(rgb01: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    to_yiq = rgb01.new_tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    yiq = torch.einsum("ij,bjhw->bihw", to_yiq, rgb01)
    c, s = torch.cos(angles).view(-1, 1, 1), torch.sin(angles).view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], c * i - s * q, s * i + c * q], dim=1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(to_yiq), yiq).clamp(0, 1)


def augment_paintings(rgb01: torch.Tensor, rng: np.random.Generator, hue_fraction: float) -> torch.Tensor:
    """90-degree turns and hue rotations (crops and flips come from the image bank)."""
    turns = rng.integers(0, 4, len(rgb01))
    out = torch.stack([torch.rot90(img, int(k), dims=(1, 2)) for img, k in zip(rgb01, turns)])
    hue = rng.random(len(rgb01)) < hue_fraction
    if hue.any():
        angles = torch.from_numpy(rng.uniform(-math.pi, math.pi, int(hue.sum())).astype(np.float32))
        out[torch.from_numpy(hue)] = rotate_hue(out[torch.from_numpy(hue)], angles)
    return out


def mix_pairs(stats: torch.Tensor, partner: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-sample convex mix of [N, C, 1, 1] statistics with those of a partner sample."""
    w = weight.view(-1, 1, 1, 1)
    return w * stats + (1 - w) * stats[partner]


def distillation_loss(lifted: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor]) -> torch.Tensor:
    """Relative feature error per tap against the teacher scaled to unit RMS per sample.

    The VGG-16 here is Caffe-scale (relu4_1 in the hundreds): unscaled, the 1x1 heads would spend
    thousands of small Adam steps growing their weights to that scale before learning anything
    (unscaled, the loss hardly moved over the first hundred steps; docs/lab/training-log.md).
    """
    total = 0.0
    for name in TEACHER_LAYERS:
        t = teacher[name].float()
        rms = t.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-6)
        total = total + relative_mse(lifted[name], t / rms)
    return total


class AdaINLightTask:
    family = ARCH

    def __init__(self, content: ImageBank, styles: ImageBank, vgg_weights: Path,
                 settings: AdaINLightSettings, device: torch.device,
                 config: AdaINLightConfig = AdaINLightConfig()):
        if settings.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {settings.stage!r}")
        self.content, self.styles, self.settings, self.device = content, styles, settings, device
        self.teacher = load_vgg16(vgg_weights, TEACHER_LAYERS).to(device)
        self.net = AdaINLightNet(config).to(device)
        self.heads = DistillationHeads(config.widths).to(device)
        self.warm_starts: list[dict] = []
        self._sample_c = content.batch(settings.seed + 7919, 0, 4, settings.image_size).to(device)
        self._sample_s = styles.batch(settings.seed + 104729, 0, 4, settings.image_size).to(device)

    def init_from(self, folder: Path) -> list[str]:
        from ..checkpoints import load_checkpoint

        path = Path(folder) / CHECKPOINT_NAME
        if not path.is_file():
            return []
        ckpt = load_checkpoint(path, ARCH)
        # A net without the skip warm-starts one with it: the skip's conv starts at zero.
        missing, unexpected = self.net.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()},
                                                       strict=False)
        if unexpected or any(not k.startswith(("decoder.skip.", "skip_in.")) for k in missing):
            raise ValueError(f"{path} does not fit this light net: missing {missing}, unexpected {unexpected}")
        self.warm_starts.append({"from": str(path), "steps": ckpt.get("meta", {}).get("steps")})
        return ["encoder", "decoder"] + (["(new skip at zero)"] if missing else [])

    def trainable(self) -> dict[str, torch.nn.Module]:
        # The skip's projection feeds the decoder, so it learns with it in either stage.
        skip = {"skip_in": self.net.skip_in} if self.net.skip_in is not None else {}
        if self.settings.stage == "decoder":
            self.net.encoder.requires_grad_(False)
            return {"decoder": self.net.decoder, **skip}
        return {"encoder": self.net.encoder, "decoder": self.net.decoder, "heads": self.heads, **skip}

    def losses(self, step: int) -> dict[str, torch.Tensor]:
        s = self.settings
        rng = np.random.default_rng([s.seed + 2, step])
        c = self.content.batch(s.seed, step, s.batch_size, s.image_size).to(self.device) / 255.0
        st = self.styles.batch(s.seed + 1, step, s.batch_size, s.image_size, scale=(0.25, 1.0)) / 255.0
        st = augment_paintings(st, rng, s.hue_fraction).to(self.device)
        identity = torch.from_numpy(rng.random(s.batch_size) < s.identity_fraction).to(self.device)
        st = torch.where(identity.view(-1, 1, 1, 1), c, st)
        partner = torch.from_numpy(rng.permutation(s.batch_size)).to(self.device)
        mixed = torch.from_numpy(rng.random(s.batch_size) < s.mix_fraction) & ~identity.cpu()
        weight = torch.where(mixed, torch.from_numpy(rng.uniform(0.2, 0.8, s.batch_size)).float(),
                             torch.ones(s.batch_size)).to(self.device)

        with torch.no_grad():
            tc = self.teacher(c)
            ts = self.teacher(st)
            t_style = {n: tuple(mix_pairs(x, partner, weight) for x in channel_mean_std(ts[n].float()))
                       for n in TEACHER_LAYERS}
            target = adain(tc["relu4_1"].float(), *t_style["relu4_1"])

        taps_c, bordered_c = self.net.student_taps(c)
        taps_s, bordered_s = self.net.student_taps(st)
        feat_c, feat_s = bordered_c[-1], bordered_s[-1]
        losses: dict[str, torch.Tensor] = {}
        if s.stage == "joint":
            lifted_c, lifted_s = self.heads(taps_c), self.heads(taps_s)
            losses["distill"] = (distillation_loss(lifted_c, tc) + distillation_loss(lifted_s, ts)) / 2
        sm, ss = (mix_pairs(x, partner, weight) for x in channel_mean_std(feat_s.float()))
        out = self.net.decode_unit(self.net.with_skip(adain(feat_c.float(), sm, ss), bordered_c))
        fo = self.teacher(out)
        losses["content"] = relative_mse(fo["relu4_1"], target)
        losses["style"] = sum(relative_mse(m, tm) + relative_mse(sd, tsd) for n in TEACHER_LAYERS
                              for (m, sd), (tm, tsd) in [(channel_mean_std(fo[n].float()), t_style[n])])
        total = s.content_weight * losses["content"] + s.style_weight * losses["style"]
        if s.gram_weight:
            # A mixed painting's target is the same convex mix of the two paintings' Grams.
            losses["gram"] = sum(relative_mse(fp32_gram(fo[n]), mix_pairs(fp32_gram(ts[n])[:, None], partner,
                                                                          weight)[:, 0])
                                 for n in TEACHER_LAYERS)
            total = total + s.gram_weight * losses["gram"]
        if s.structure_weight:
            losses["structure"] = structure_loss(out, c)
            total = total + s.structure_weight * losses["structure"]
        if "distill" in losses:
            total = total + s.distill_weight * losses["distill"]
        return {"total": total, **losses}

    def save_models(self, out_dir: Path, step: int, history: list[dict]) -> list[Path]:
        last = history[-1] if history else {}
        meta = {"steps": step, "settings": asdict(self.settings), "held_out_styles": list(self.settings.held_out),
                "teacher": "VGG-16 (Simonyan & Zisserman 2014, CC BY 4.0) from the shared folder; "
                           "training-time teacher and loss network only",
                "final_losses": {k: v for k, v in last.items()
                                 if k in ("content", "style", "distill", "gram", "structure")},
                **({"warm_start": self.warm_starts} if self.warm_starts else {})}
        weights = {k: v.detach().half().cpu() for k, v in self.net.state_dict().items()}
        ckpt = make_checkpoint(ARCH, self.net.config.to_dict(), weights, meta)
        return [atomic_save(ckpt, Path(out_dir) / CHECKPOINT_NAME)]

    @torch.no_grad()
    def write_samples(self, out_dir: Path, step: int) -> None:
        mean, std = self.net.style_stats(self._sample_s)
        alpha = torch.ones(1, device=self.device)
        out = self.net(self._sample_c, mean, std, alpha).clamp(0, 255)
        write_sample_grid(out_dir, step, [self._sample_c, self._sample_s, out])
