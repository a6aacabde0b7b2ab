"""The styles of a live session, by name: one bank that the keys, the web page's picker and its
painting upload all go through (via the pipeline's controls), and that ``livestyle cam`` fills.

A style is built the first time it is picked and kept, so cycling through styles costs one load
each. Paintings (``--style-dir``, uploads) share one set of AdaIN graphs, built when the first
painting is picked, so a session that never uses one never pays for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import InputError
from ..runtime.adain import AdaINStylizer
from ..runtime.stylizer import Stylizer

PAINTING_PREFIX = "image:"   # paintings are listed as image:<name>, apart from the fixed styles


class StyleBank:
    """Stylizers by name: ``first`` ready, the rest built on first use by ``load_style`` (a listed
    name) or ``load_painting`` (a painting added with :meth:`add_painting`)."""

    def __init__(self, first: Stylizer, names: Sequence[str] = (), *,
                 load_style: Callable[[str], Stylizer] | None = None,
                 load_painting: Callable[[str, np.ndarray], Stylizer] | None = None):
        self.names = list(names)
        if first.name not in self.names:
            self.names.insert(0, first.name)
        self.first = first
        self._built: dict[str, Stylizer] = {first.name: first}
        self._load_style, self._load_painting = load_style, load_painting
        self._paintings: dict[str, np.ndarray] = {}

    @property
    def accepts_paintings(self) -> bool:
        return self._load_painting is not None

    def add_painting(self, name: str, image_bgr: np.ndarray) -> str:
        """List a painting as a style; returns the name it is listed under (built when picked)."""
        if self._load_painting is None:
            raise InputError("this stream cannot load style images")
        key = PAINTING_PREFIX + name
        self._paintings[key] = image_bgr
        self._built.pop(key, None)  # same name uploaded again: the new painting wins
        if key not in self.names:
            self.names.append(key)
        return key

    def get(self, name: str) -> Stylizer | None:
        """The stylizer for ``name``, built now if it was not yet; ``None`` when nothing here can
        build it. A failed build raises the loader's (typed) error and leaves nothing behind."""
        if name not in self._built:
            painting = self._paintings.get(name)
            if painting is not None:
                self._built[name] = self._load_painting(name, painting)
            elif self._load_style is not None:
                self._built[name] = self._load_style(name)
            else:
                return None
        return self._built[name]


class _PaintingStyles:
    """Builds a stylizer per painting, all sharing the graphs of one AdaIN stylizer (switching costs
    one style encoding, not three new sessions)."""

    def __init__(self, options: dict, painter: AdaINStylizer | None):
        self.options = options
        self.painter = painter   # None until the first painting is picked

    def __call__(self, name: str, image_bgr: np.ndarray) -> Stylizer:
        from ..runtime.factory import create_stylizer

        if self.painter is None:
            self.painter = create_stylizer(**{**self.options, "style": None, "style_images": [image_bgr]})
        return self.painter.with_style([image_bgr], name=name)


def live_style_bank(options: dict, style_dir=None) -> StyleBank:
    """The bank ``livestyle cam`` starts with: the stylizer ``options`` describe (``create_stylizer``
    keywords), every registered fixed style once (``--model`` picks the variant), then the
    paintings in ``style_dir``; uploads from the web page join while it runs."""
    from ..media.images import list_images, read_image
    from ..runtime.factory import create_stylizer
    from ..runtime.registry import list_style_names

    first = create_stylizer(**options)
    files = {PAINTING_PREFIX + p.stem: p for p in (list_images(style_dir) if style_dir else [])}
    names = list_style_names(shared_dir=options.get("shared_dir"), variants=False) + list(files)
    fixed = {**options, "style_images": None, "style_weights": None}
    paintings = _PaintingStyles(options, first if isinstance(first, AdaINStylizer) else None)

    def load_style(name: str) -> Stylizer:
        if name in files:
            return paintings(name, read_image(files[name], what="style image"))
        return create_stylizer(**{**fixed, "style": name})

    return StyleBank(first, names, load_style=load_style, load_painting=paintings)
