"""PyTorch -> ONNX export with parity checks and manifests."""
