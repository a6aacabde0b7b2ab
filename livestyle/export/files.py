"""Names of the files the AdaIN exports write, which the runtime looks up.

Kept apart from the exporters, which import PyTorch, so that a plain install (no PyTorch) can find
the shipped graphs.
"""

# The VGG-16 AdaIN net's three graphs (built into the user cache, see adain.py).
ADAIN_GRAPH_FILES = {"style": "style.onnx", "encoder": "encoder.onnx", "decoder": "decoder.onnx"}

# livestyle's own light arbitrary-style net (shipped in exported/, see adain_light.py).
LIGHT_ADAIN_NAME = "adain_light"
LIGHT_ADAIN_GRAPH_FILES = {part: f"{LIGHT_ADAIN_NAME}.{part}.onnx" for part in ("style", "encoder", "decoder")}
