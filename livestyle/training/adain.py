"""AdaIN decoder training (Huang & Belongie 2017, sec. 6) on the VGG-16 encoder.

Content loss is measured against the AdaIN target t = AdaIN(f(c), f(s)), not the content
features, and the style loss matches channel mean/std at relu1_1..relu4_1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..checkpoints import atomic_save, load_vgg16, make_checkpoint
from ..models.adain import STYLE_LAYERS, AdaINDecoder
from ..models.ops import adain, channel_mean_std
from .data import ImageBank
from .losses import mean_std_style_loss, relative_mse
from .samples import write_sample_grid

# Kept out of training so generalisation is judged on paintings the decoder never saw.
HELD_OUT_STYLES = ("woman_in_peasant_dress", "woman_in_peasant_dress_cropped", "brushstrokes",
                   "the_resevoir_at_poitiers", "sketch", "contrast_of_forms", "asheville")


@dataclass
class AdaINSettings:
    image_size: int = 256
    batch_size: int = 8
    style_weight: float = 2.0
    content_weight: float = 1.0
    seed: int = 0


class AdaINTask:
    family = "adain"

    def __init__(self, content: ImageBank, styles: ImageBank, vgg_weights: Path,
                 settings: AdaINSettings, device: torch.device):
        self.content, self.styles, self.settings, self.device = content, styles, settings, device
        self.encoder = load_vgg16(vgg_weights, STYLE_LAYERS).to(device)
        self.decoder = AdaINDecoder().to(device)
        self._sample_c = content.batch(settings.seed + 7919, 0, 4, settings.image_size).to(device)
        self._sample_s = styles.batch(settings.seed + 104729, 0, 4, settings.image_size).to(device)

    def init_from(self, folder: Path) -> list[str]:
        from ..checkpoints import build_model, load_checkpoint

        path = Path(folder) / "adain_decoder.pt"
        if not path.is_file():
            return []
        self.decoder.load_state_dict(build_model(load_checkpoint(path, "adain_decoder")).state_dict())
        return ["decoder"]

    def trainable(self) -> dict[str, torch.nn.Module]:
        return {"decoder": self.decoder}

    def losses(self, step: int) -> dict[str, torch.Tensor]:
        s = self.settings
        c = self.content.batch(s.seed, step, s.batch_size, s.image_size).to(self.device) / 255.0
        # Strong style augmentation: crops from 25% to 100% of the painting's short side.
        st = self.styles.batch(s.seed + 1, step, s.batch_size, s.image_size, scale=(0.25, 1.0))
        st = st.to(self.device) / 255.0
        with torch.no_grad():
            fc = self.encoder(c)["relu4_1"]
            fs = self.encoder(st)
            sm, ss = channel_mean_std(fs["relu4_1"].float())
            target = adain(fc.float(), sm, ss)
        out = self.decoder(target)
        fo = self.encoder(out)
        loss_c = relative_mse(fo["relu4_1"], target)
        loss_s = mean_std_style_loss(fo, fs, STYLE_LAYERS)
        total = s.content_weight * loss_c + s.style_weight * loss_s
        return {"total": total, "content": loss_c, "style": loss_s}

    def save_models(self, out_dir: Path, step: int, history: list[dict]) -> list[Path]:
        meta = {"steps": step, "settings": asdict(self.settings), "held_out_styles": list(HELD_OUT_STYLES),
                "final_losses": {k: v for k, v in (history[-1] if history else {}).items()
                                 if k in ("content", "style")}}
        ckpt = make_checkpoint("adain_decoder", {}, {k: v.detach().half().cpu()
                                                     for k, v in self.decoder.state_dict().items()}, meta)
        return [atomic_save(ckpt, Path(out_dir) / "adain_decoder.pt")]

    @torch.no_grad()
    def write_samples(self, out_dir: Path, step: int) -> None:
        fc = self.encoder(self._sample_c / 255.0)["relu4_1"]
        sm, ss = channel_mean_std(self.encoder(self._sample_s / 255.0)["relu4_1"])
        out = self.decoder(adain(fc, sm, ss)).clamp(0, 1) * 255.0
        write_sample_grid(out_dir, step, [self._sample_c, self._sample_s, out])
