"""Fast CPU nets distilled from our full nets: a small student learns its teacher's output.

The student, one of the designs in ``STUDENTS`` (``thin``: thin separable convs; ``slim``: the same
with instance norms in the encoder only and one border instead of per-conv pads, which ONNX Runtime
runs faster; ``slim8`` and ``deep8``: slim with a third downsampling; models/johnson.py), learns to
reproduce the teacher's output. A design is the net's shape; the shipped ``<style>_fast`` nets are
the fast *variant* of a style, whatever design they have (today ``deep8``).
Teacher outputs are computed once for a fixed bank of crops, so a training step costs only the
student's forward and backward pass: no VGG, which is what makes training on a CPU practical.
The loss is L1 on pixels plus L1 on image gradients, so strokes stay crisp instead of averaging out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints import atomic_save, build_model, load_checkpoint, make_checkpoint
from ..models.johnson import (DEEP8_CONFIG, DEEP8S_CONFIG, SLIM8_CONFIG, SLIM_CONFIG, THIN_CONFIG, TransformerConfig,
                              TransformerNet, with_separable_out)
from ..runtime.registry import base_name, fast_name
from .data import ImageBank
from .johnson import warm_start_record
from .samples import write_sample_grid

CHUNK = 16
STUDENTS = {"thin": THIN_CONFIG, "slim": SLIM_CONFIG, "slim8": SLIM8_CONFIG, "deep8": DEEP8_CONFIG,
            "deep8s": DEEP8S_CONFIG}


def student_name(teacher: str) -> str:
    """The fast variant's name for a teacher's: ``mosaic`` -> ``mosaic_fast``; a fast net taught to a
    student of another design keeps its name (``mosaic_fast`` -> ``mosaic_fast``)."""
    return fast_name(base_name(teacher))


def warm_state(ckpt: dict, config: TransformerConfig) -> dict | None:
    """``ckpt``'s weights for a student of ``config``: as they are for the same design, converted
    for its design with a separable RGB-out conv, None for any other design."""
    saved = TransformerConfig.from_dict(ckpt["config"])
    state = build_model(ckpt).state_dict()
    if saved == config:
        return state
    if not saved.separable_out and replace(saved, separable_out=True) == config:
        return with_separable_out(state, saved)
    return None


@dataclass
class DistillSettings:
    image_size: int = 128      # the nets are fully convolutional: small crops teach the same strokes
    batch_size: int = 16
    bank_size: int = 2048      # crops whose teacher outputs are precomputed
    edge_weight: float = 1.0
    seed: int = 0
    # Smallest crop as a fraction of a photo's short side (crops span it..1): small crops scaled up
    # show the teacher at the scale of large frames, where users run the nets.
    crop_min: float = 0.6


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, edge_weight: float) -> dict[str, torch.Tensor]:
    pixel = F.l1_loss(student, teacher) / 255.0
    (sx, sy), (tx, ty) = image_gradients(student), image_gradients(teacher)
    edges = (F.l1_loss(sx, tx) + F.l1_loss(sy, ty)) / 255.0
    return {"pixel": pixel, "edges": edges, "total": pixel + edge_weight * edges}


class DistillTask:
    family = "distill"

    def __init__(self, teachers: dict[str, Path], content: ImageBank, settings: DistillSettings,
                 device: torch.device, config: TransformerConfig = THIN_CONFIG, progress=None):
        self.settings, self.device = settings, device
        self.teacher_meta: dict[str, dict] = {}
        self.students: dict[str, TransformerNet] = {}
        self.warm_starts: dict[str, dict] = {}
        s = settings
        chunks = range((s.bank_size + CHUNK - 1) // CHUNK)
        self.inputs = torch.cat([content.batch(s.seed, i, CHUNK, s.image_size, scale=(s.crop_min, 1.0))
                                 for i in chunks]).byte()
        self.targets: dict[str, torch.Tensor] = {}
        for name, path in teachers.items():
            ckpt = load_checkpoint(path, "johnson")
            self.teacher_meta[name] = ckpt.get("meta", {})
            teacher = build_model(ckpt).float().eval().to(device)
            outs = []
            with torch.inference_mode():
                for i in chunks:
                    x = self.inputs[i * CHUNK:(i + 1) * CHUNK].float().to(device)
                    outs.append(teacher(x).clamp(0, 255).round().byte().cpu())
                    if progress:
                        progress(name, i + 1, len(chunks))
            self.targets[name] = torch.cat(outs)
            self.students[name] = TransformerNet(config).to(device)
        self._sample_idx = torch.arange(4)

    def init_from(self, folder: Path) -> list[str]:
        """Warm-start students from their fast net's file (``student_name``) in ``folder`` where its
        design is the student's or converts to it (``warm_state``); one of another design is
        skipped, not forced in."""
        loaded = []
        for name, net in self.students.items():
            path = Path(folder) / f"{student_name(name)}.pt"
            if not path.is_file():
                continue
            ckpt = load_checkpoint(path, "johnson")
            state = warm_state(ckpt, net.config)
            if state is None:
                continue
            net.load_state_dict(state)
            self.warm_starts[name] = warm_start_record(path, ckpt.get("meta", {}))
            loaded.append(name)
        return loaded

    def trainable(self) -> dict[str, torch.nn.Module]:
        return dict(self.students)

    def _batch(self, step: int) -> tuple[torch.Tensor, np.ndarray]:
        rng = np.random.default_rng([self.settings.seed + 17, step])
        idx = torch.from_numpy(rng.integers(len(self.inputs), size=self.settings.batch_size))
        return idx, rng.random(self.settings.batch_size) < 0.5

    def losses(self, step: int) -> dict[str, torch.Tensor]:
        idx, flip = self._batch(step)
        x = self.inputs[idx].float()
        flip_t = torch.from_numpy(flip)
        x[flip_t] = x[flip_t].flip(-1)
        x = x.to(self.device)
        out: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=self.device)
        for name, student in self.students.items():
            t = self.targets[name][idx].float()
            t[flip_t] = t[flip_t].flip(-1)
            parts = distill_loss(student(x), t.to(self.device), self.settings.edge_weight)
            total = total + parts["total"]
            out.update({f"{name}/{k}": v for k, v in parts.items()})
        out["total"] = total
        return out

    def save_models(self, out_dir: Path, step: int, history: list[dict]) -> list[Path]:
        paths = []
        last = history[-1] if history else {}
        for name, net in self.students.items():
            teacher = self.teacher_meta[name]
            meta = {"style_name": student_name(name), "variant": "fast", "distilled_from": name,
                    "style_image": teacher.get("style_image"), "steps": step,
                    "teacher_steps": teacher.get("steps"), "settings": asdict(self.settings),
                    "final_losses": {k.split("/", 1)[1]: v for k, v in last.items() if k.startswith(name + "/")}}
            if name in self.warm_starts:
                meta["warm_start"] = self.warm_starts[name]
            ckpt = make_checkpoint("johnson", net.config.to_dict(),
                                   {k: v.detach().half().cpu() for k, v in net.state_dict().items()}, meta)
            paths.append(atomic_save(ckpt, Path(out_dir) / f"{student_name(name)}.pt"))
        return paths

    @torch.no_grad()
    def write_samples(self, out_dir: Path, step: int) -> None:
        x = self.inputs[self._sample_idx].float().to(self.device)
        rows = [x]
        for name, net in self.students.items():
            rows += [self.targets[name][self._sample_idx].float().to(self.device), net(x).clamp(0, 255)]
        write_sample_grid(out_dir, step, rows)  # input, then teacher and student per style
