"""PyTorch -> ONNX export with parity checks and manifests.

``onnx.py`` (dynamic-H/W export, the parity checks, manifest entries), ``johnson.py`` (fixed-style
nets, whole or split in two), ``adain.py`` and ``adain_light.py`` (the three AdaIN graphs: style,
encoder, decoder), ``quantize.py`` (int8 graphs calibrated on photos, with a check).
"""
