"""livestyle: real-time neural style transfer for webcams and videos.

Data flows one way, and so do the imports: ``models`` (nets, maths only) -> ``training`` /
``export`` (ONNX) -> ``runtime`` (engine, registry, stylizers, temporal blending) and ``paint``
(Gatys optimisation) -> ``media`` (images, video, sources, sinks) -> ``pipeline`` (file and live)
-> ``cli``. ``eval`` measures from the side. Beneath them all sit small shared modules:
``errors``, ``paths``, ``checkpoints`` (weight files -> nets), ``fileio`` (atomic writes, hashes),
``imageops`` (frame format and sizes), ``color`` (colour preservation), ``mixing`` (style
weights), ``devices`` (the PyTorch device) and ``extras`` (what the plain install, without
PyTorch, lacks).
"""

__version__ = "0.1.0"

import os as _os

# onnxruntime otherwise writes a device id and an event database under ~/.cache/Microsoft on the
# first session of every process; a stylizer has no business leaving files in the user's home.
# Read when onnxruntime is imported, so it is set before any module of the package can import it;
# a user who wants the telemetry sets the variable themselves.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
