"""Inference: style registry -> ONNX artefact -> engine -> frame stylizer, with temporal blending.

Imports run one way inside: ``registry.py`` (style name -> artefact) and ``engine.py`` (where the
stylizers' onnxruntime sessions and their execution providers are made; ``torch_engine.py`` and
``backends.py`` add the PyTorch GPU path) at the bottom; ``stylizer.py`` (the frame-in, frame-out
contract and the one-graph stylizer), ``split.py`` and ``adain.py`` (encoder/decoder families)
above them; ``flow.py`` (optical flow) under ``temporal.py`` (the blender); ``factory.py`` on top,
the only module that builds stylizers and the only one that knows every family. The export and
int8 parity checks, the Magenta anchor and the benchmark tools open plain CPU sessions of their own.
"""
