"""Inference: style registry -> ONNX artefact -> onnxruntime engine -> frame stylizer."""
