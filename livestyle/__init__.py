"""livestyle: real-time neural style transfer for webcams and videos.

Data flows one way, and so do the imports: ``models`` (nets, maths only) -> ``training`` /
``export`` (ONNX) -> ``runtime`` (engine, registry, stylizers, temporal blending) and ``paint``
(Gatys optimisation) -> ``media`` (images, video, sources, sinks) -> ``pipeline`` (file and live)
-> ``cli``. ``eval`` measures from the side. Beneath them all sit small shared modules:
``errors``, ``paths``, ``checkpoints`` (weight files -> nets), ``fileio`` (atomic writes, hashes),
``imageops`` (frame format and sizes), ``color`` (colour preservation), ``mixing`` (style
weights) and ``devices`` (the PyTorch device).
"""

__version__ = "0.1.0"
