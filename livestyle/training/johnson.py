"""Johnson et al. 2016 perceptual-loss training of feed-forward nets, several styles per pass.

Several styles (and the fast/full variants) can train together: the content batch and its VGG
features are computed once and shared, and all outputs go through VGG as one batch. The loss is
a sum of per-net losses over disjoint parameters, so each net trains exactly as it would alone.

With ``temporal_weight`` > 0 each net also runs on synthetic next frames of the same batch
(temporal_loss.py: ReReVST's moved photos and/or MCCNet's noisy ones) and is asked to move its
output with the picture; that term is a pixel L1, so it costs one more pass of the small net and
none of VGG.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..checkpoints import atomic_save, make_checkpoint
from ..errors import InputError
from ..models.johnson import DEEP8_CONFIG, THIN_CONFIG, FULL_CONFIG, TransformerNet
from .data import ImageBank, load_style_image
from .samples import write_sample_grid
from .losses import (CONTENT_LAYER, coarse_luminance, content_loss, gram_style_loss, gram_targets,
                     load_loss_network, total_variation)
from .temporal_loss import MODES as TEMPORAL_MODES, SyntheticMotion, motion_probe

# realtime: the design of the shipped ``<style>_fast`` nets (distill.STUDENTS["deep8"]), so a net
# trained with it runs in video and cam as fast as they do; its checkpoint is named after the style
# alone (``mine.pt``, used as ``--style mine``) and records the variant as "fast", as theirs do.
VARIANTS = {"realtime": DEEP8_CONFIG, "full": FULL_CONFIG, "fast": THIN_CONFIG}
RECORDED_VARIANT = {"realtime": "fast"}


@dataclass
class JohnsonSettings:
    image_size: int = 256
    batch_size: int = 8
    style_size: int = 512
    content_weight: float = 1.0
    style_weight: float = 20.0
    tv_weight: float = 1.0
    content_layer: str = CONTENT_LAYER
    seed: int = 0
    ema_decay: float = 0.0     # the loop saves averaged weights (LoopConfig.average_decay); kept for the record
    temporal_weight: float = 0.0   # 0: no temporal loss
    temporal_mode: str = "warp"    # temporal_loss.MODES
    # Crop side as a fraction of a photo's short side, drawn from [crop_min, 1]. The training
    # photos are at most 288 px; small crops enlarged to image_size show the net objects as large
    # as a 512-1080 px frame does, which crops of whole photos never do.
    crop_min: float = 0.6
    # Fraction of training crops blurred as out of focus (data.DEFOCUS_SIGMA): a net that only ever
    # saw sharp photos leaves soft areas of video frames as flat planes.
    defocus: float = 0.0
    # Fraction of training crops in flat shading (data.FLAT_SIGMA_S): rendered animation has planes
    # of smooth colour between sharp edges that no training photo has.
    flat: float = 0.0
    # Gram style layers whose weight is not 1 (losses.gram_style_loss), e.g. {"relu4_3": 0.25}.
    style_layer_weights: dict[str, float] = field(default_factory=dict)
    # Weight of the content loss on losses.coarse_luminance (0: off) and its cell side in pixels: candy's and
    # starry_night's nets stamp their discs and stars over flat regions, where the usual content
    # loss only sees the rims.
    structure_weight: float = 0.0
    structure_cell: int = 4


@dataclass
class StyleJob:
    name: str
    style_image: Path
    variant: str = "full"

    @property
    def key(self) -> str:
        return self.name if self.variant in ("full", "realtime") else f"{self.name}_{self.variant}"


def warm_start_record(path: Path, meta: dict) -> dict:
    """What a net was warm-started from (a distilled student and its teacher's steps, an earlier
    run), for the manifest."""
    record = {"checkpoint": Path(path).name, "steps": meta.get("steps")}
    for key in ("distilled_from", "teacher_steps", "warm_start"):
        if meta.get(key):
            record[key] = meta[key]
    return record


def _check_crop_fits(config, image_size: int, what: str) -> None:
    """A net with a reflected border (TransformerConfig.border) cannot reflect more than a crop holds,
    and a crop whose side its strides do not divide comes back another size."""
    if config.border and image_size <= config.border:
        raise InputError(f"{what} reflects a {config.border} px border around each crop: use --image-size "
                         f"above {config.border}")
    if image_size % config.stride:
        raise InputError(f"{what} downsamples by {config.stride}: use an --image-size that is a multiple of it")


class JohnsonTask:
    family = "johnson"

    def __init__(self, jobs: list[StyleJob], content: ImageBank, vgg_weights: Path,
                 settings: JohnsonSettings, device: torch.device, style_weights: list[float] | None = None):
        if settings.temporal_mode not in TEMPORAL_MODES or settings.temporal_weight < 0:
            raise InputError(f"temporal loss needs a weight >= 0 and a mode in {', '.join(TEMPORAL_MODES)}, "
                             f"got {settings.temporal_weight} and '{settings.temporal_mode}'")
        if not 0.0 < settings.crop_min <= 1.0:
            raise InputError(f"the smallest crop must be a fraction in (0, 1] of a photo's short side, "
                             f"got {settings.crop_min}")
        # the design's own limit first: a crop it cannot take is the first thing to change
        for job in jobs:
            _check_crop_fits(VARIANTS[job.variant], settings.image_size, f"--variant {job.variant}")
        if settings.structure_weight < 0 or (settings.structure_weight > 0 and
                                             not 1 <= settings.structure_cell <= settings.image_size // 16):
            raise InputError(f"the coarse-structure loss needs a weight >= 0 and a cell of 1 to "
                             f"{settings.image_size // 16} px at --image-size {settings.image_size}, "
                             f"got {settings.structure_weight} and {settings.structure_cell}")
        self.jobs, self.content, self.settings, self.device = jobs, content, settings, device
        self.motion = SyntheticMotion()
        self.style_weights = style_weights or [settings.style_weight] * len(jobs)
        self.vgg = load_loss_network(vgg_weights).to(device)
        self.nets = {job.key: TransformerNet(VARIANTS[job.variant]).to(device) for job in jobs}
        self.warm_starts: dict[str, dict] = {}
        self.style_targets = []
        with torch.no_grad():
            for job in jobs:
                style = load_style_image(job.style_image, settings.style_size).to(device) / 255.0
                self.style_targets.append(gram_targets(self.vgg(style)))
        self._sample = self.content.batch(settings.seed + 7919, 0, 4, settings.image_size).to(device)

    def init_from(self, folder: Path) -> list[str]:
        """Warm start from ``<key>.pt`` files; where they came from is kept in the saved meta.
        The checkpoint's architecture wins over the variant's default, so a fast net of another
        design (a ``train distill --student slim`` student) is fine-tuned as it is."""
        loaded = []
        for key in self.nets:
            path = Path(folder) / f"{key}.pt"
            if path.is_file():
                self._warm_start(key, path)
                loaded.append(key)
        return loaded

    def _warm_start(self, key: str, path: Path) -> None:
        from ..checkpoints import build_model, load_checkpoint

        ckpt = load_checkpoint(path, "johnson")
        net = build_model(ckpt).float().train().to(self.device)
        _check_crop_fits(net.config, self.settings.image_size, f"the net in {Path(path).name}")
        self.nets[key] = net
        self.warm_starts[key] = warm_start_record(path, ckpt.get("meta", {}))

    @torch.no_grad()
    def start_from_closest(self, key: str, candidates: dict[str, Path]) -> tuple[str, dict[str, float]]:
        """Warm-start net ``key`` from whichever of ``candidates`` (name -> Johnson checkpoint) has
        the lowest training loss for its painting on a few training crops (no temporal term):
        the net whose output already looks most like the painting has the least left to learn.
        Returns the choice and every candidate's loss."""
        from ..checkpoints import build_model, load_checkpoint

        s = self.settings
        i = next(i for i, job in enumerate(self.jobs) if job.key == key)
        x = self.content.batch(s.seed + 104729, 0, 4, s.image_size, scale=(s.crop_min, 1.0)).to(self.device)
        content_feats = self.vgg(x / 255.0)
        scores = {}
        for name, path in candidates.items():
            y01 = build_model(load_checkpoint(path, "johnson")).float().eval().to(self.device)(x) / 255.0
            feats = self.vgg(y01)
            loss = (s.content_weight * content_loss(feats, content_feats, s.content_layer)
                    + self.style_weights[i] * gram_style_loss(feats, self.style_targets[i], s.style_layer_weights)
                    + s.tv_weight * total_variation(y01))
            scores[name] = float(loss)
        best = min(scores, key=scores.get)
        self._warm_start(key, candidates[best])
        return best, scores

    def recall_warm_starts(self, out_dir: Path) -> None:
        """On --resume: the architecture and warm-start record of the checkpoints this run wrote
        before (the loop then loads the exact training state into those nets)."""
        from ..checkpoints import load_checkpoint
        from ..models.johnson import TransformerConfig

        for key in self.nets:
            path = Path(out_dir) / f"{key}.pt"
            if not path.is_file():
                continue
            ckpt = load_checkpoint(path, "johnson")
            config = TransformerConfig.from_dict(ckpt["config"])
            if config != self.nets[key].config:
                self.nets[key] = TransformerNet(config).to(self.device)
            record = ckpt.get("meta", {}).get("warm_start")
            if key not in self.warm_starts and record:
                self.warm_starts[key] = record

    def trainable(self) -> dict[str, torch.nn.Module]:
        return self.nets

    def losses(self, step: int) -> dict[str, torch.Tensor]:
        s = self.settings
        x = self.content.batch(s.seed, step, s.batch_size, s.image_size, scale=(s.crop_min, 1.0),
                               defocus=s.defocus, flat=s.flat)
        x = x.to(self.device, non_blocking=True)
        with torch.no_grad():
            content_feats = self.vgg(x / 255.0)
        outputs = [net(x) for net in self.nets.values()]
        y01 = torch.cat(outputs) / 255.0
        probe = motion_probe(x, s.seed, step, s.temporal_mode, self.motion) if s.temporal_weight > 0 else None
        moved01 = [net(probe.inputs) / 255.0 for net in self.nets.values()] if probe else []
        feats = self.vgg(y01)
        if s.structure_weight > 0:
            with torch.no_grad():
                coarse_targets = self.vgg(coarse_luminance(x / 255.0, s.structure_cell))
            coarse_feats = self.vgg(coarse_luminance(y01, s.structure_cell))
        total, out = 0.0, {}
        b = s.batch_size
        for i, job in enumerate(self.jobs):
            fi = {k: v[i * b:(i + 1) * b] for k, v in feats.items()}
            c = content_loss(fi, content_feats, s.content_layer)
            st = gram_style_loss(fi, self.style_targets[i], s.style_layer_weights)
            tv = total_variation(y01[i * b:(i + 1) * b].float())
            loss = s.content_weight * c + self.style_weights[i] * st + s.tv_weight * tv
            out.update({f"{job.key}/content": c, f"{job.key}/style": st, f"{job.key}/tv": tv})
            if s.structure_weight > 0:
                coarse = content_loss({k: v[i * b:(i + 1) * b] for k, v in coarse_feats.items()},
                                      coarse_targets, s.content_layer)
                loss = loss + s.structure_weight * coarse
                out[f"{job.key}/structure"] = coarse
            if probe:
                temporal = probe.loss(y01[i * b:(i + 1) * b], moved01[i])
                loss = loss + s.temporal_weight * temporal
                out[f"{job.key}/temporal"] = temporal
            total = total + loss
        out["total"] = total
        return out

    def save_models(self, out_dir: Path, step: int, history: list[dict]) -> list[Path]:
        paths = []
        for i, job in enumerate(self.jobs):
            net = self.nets[job.key]
            last = history[-1] if history else {}
            meta = {"style_name": job.name, "variant": RECORDED_VARIANT.get(job.variant, job.variant),
                    "style_image": job.style_image.name,
                    "steps": step, "settings": {**asdict(self.settings), "style_weight": self.style_weights[i]},
                    "final_losses": {k.split("/", 1)[1]: v for k, v in last.items() if k.startswith(job.key + "/")}}
            if job.key in self.warm_starts:
                meta["warm_start"] = self.warm_starts[job.key]
            if self.settings.temporal_weight > 0:
                meta["temporal_motion"] = self.motion.to_dict()
            ckpt = make_checkpoint("johnson", net.config.to_dict(),
                                   {k: v.detach().half().cpu() for k, v in net.state_dict().items()}, meta)
            paths.append(atomic_save(ckpt, Path(out_dir) / f"{job.key}.pt"))
        return paths

    @torch.no_grad()
    def write_samples(self, out_dir: Path, step: int) -> None:
        rows = [self._sample] + [net(self._sample).clamp(0, 255) for net in self.nets.values()]
        write_sample_grid(out_dir, step, rows)
