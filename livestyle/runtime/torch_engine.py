"""A PyTorch engine with the interface of :class:`~livestyle.runtime.engine.Engine`.

For machines that have a CUDA build of PyTorch but no onnxruntime-gpu (the common case for people
who train). It speaks the exported graphs' convention (export/onnx.py): float32 NCHW RGB 0..255
in, float32 out, images clamped to 0..255, half precision only inside, so a stylizer cannot tell
it from the ONNX graph beyond the export's parity tolerances.

On CUDA it computes in fp16 where the GPU has fast half arithmetic (compute capability 7.0 and up)
with channels-last tensors; CUDA graphs and ``torch.compile`` are opt-in because both pay a
start-up cost per frame size that only long streams win back. On the CPU it computes in fp32.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from ..errors import DeviceError, InputError, ModelError
from .engine import GraphEngine

log = logging.getLogger(__name__)

TORCH_CUDA_HINT = "install a CUDA build of PyTorch (https://pytorch.org/get-started/locally/)"
FP16_MIN_CAPABILITY = (7, 0)   # Volta: the first GPUs with tensor cores for half precision
MAX_CAPTURED_SHAPES = 4        # a stream has one frame size; a few more cover size changes

ARBITRARY_INPUTS = ("image", "style_mean", "style_std", "alpha")

# The I/O of each exported graph (export/onnx.py, export/adain.py), by the kind of net (a family's
# KIND, livestyle/families/) and method: input names, output names, whether the output is an image
# (clamped to 0..255).
GRAPH_IO: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    ("fixed", "forward"): (("image",), ("stylized",), True),
    ("arbitrary", "forward"): (ARBITRARY_INPUTS, ("stylized",), True),
    ("arbitrary", "stylize_features"): (ARBITRARY_INPUTS, ("features",), False),
    ("arbitrary", "decode"): (("features",), ("stylized",), True),
    ("arbitrary", "style_stats"): (("image",), ("style_stats",), False),
}


class GraphModule(nn.Module):
    """One method of a net as a graph: inputs cast to the compute dtype, output float32.

    A method returning several tensors (``style_stats``: mean, std) gives them concatenated on the
    channel axis, as the exported style graph does.
    """

    def __init__(self, net: nn.Module, method: str, clamp: bool, dtype: torch.dtype):
        super().__init__()
        self.net, self.method, self.clamp, self.dtype = net, method, clamp, dtype

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = getattr(self.net, self.method)(*(x.to(self.dtype) for x in inputs))
        if isinstance(out, tuple):
            out = torch.cat(out, dim=1)
        out = out.float()
        return out.clamp(0.0, 255.0) if self.clamp else out


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when this PyTorch can use a GPU, else the CPU; 'cuda' must be servable."""
    if device not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"unknown device '{device}'; use auto, cpu or cuda")
    if device == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if device == "cuda":
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise DeviceError(f"--device cuda asked for, but PyTorch {torch.__version__} here ({build}) sees no "
                          f"GPU; {TORCH_CUDA_HINT}, or use --device cpu")
    return torch.device("cpu")


def half_is_fast(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.get_device_capability(device) >= FP16_MIN_CAPABILITY


class TorchEngine(GraphEngine):
    """Runs a torch net like an onnxruntime session: ``run(feeds) -> [outputs]`` on numpy arrays.

    ``fp16=None`` picks half precision where the GPU has fast half arithmetic; ``fp16=True`` on a
    CPU still computes in fp32 (half convolutions there are slow and no more exact). ``tf32``
    allows TF32 convolutions in fp32 mode: faster on Ampere and later, but off by default because
    fp32 mode is what is held to the fp32 parity tolerance.
    """

    def __init__(self, net: nn.Module, input_names: Sequence[str] = ("image",),
                 output_names: Sequence[str] = ("stylized",), device: str = "auto",
                 fp16: bool | None = None, method: str = "forward", clamp: bool = True,
                 channels_last: bool = True, cuda_graphs: bool = False, compile: bool = False,
                 tf32: bool = False, name: str | None = None):
        if not hasattr(net, method):
            raise ModelError(f"{type(net).__name__} has no method '{method}' to run as a graph")
        self.device = resolve_device(device)
        self.on_gpu = self.device.type == "cuda"
        self.fp16 = half_is_fast(self.device) if fp16 is None else bool(fp16) and self.on_gpu
        if self.fp16 and not half_is_fast(self.device):
            log.warning("fp16 on a GPU of compute capability %s: slower than fp32 there",
                        torch.cuda.get_device_capability(self.device))
        self.precision = "fp16" if self.fp16 else "fp32"
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.channels_last = channels_last and self.on_gpu
        self.cuda_graphs = cuda_graphs and self.on_gpu
        self.tf32 = tf32
        self.name = name or type(net).__name__
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        if len(self.output_names) != 1:
            raise ModelError("TorchEngine graphs have exactly one output, as the exported graphs do")
        module = GraphModule(net.float().eval(), method, clamp, self.dtype).to(self.device, self.dtype)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        module.requires_grad_(False)
        self.module: nn.Module = torch.compile(module, dynamic=False) if compile else module
        self.compiled = compile
        self._graphs: dict[tuple, tuple] = {}

    @classmethod
    def from_checkpoint(cls, path: str | Path, method: str = "forward", **options) -> "TorchEngine":
        """A livestyle checkpoint (``exported/*.pt``) as the graph of the same name would run."""
        from ..checkpoints import build_model, load_checkpoint
        from ..families import family as family_of

        ckpt = load_checkpoint(path)
        net_family = family_of(ckpt["arch"])
        kind = net_family.KIND
        if not getattr(net_family, "RUNS_ALONE", True):
            raise ModelError(f"{path} holds a '{ckpt['arch']}' net, which does not run on its own (the VGG "
                             "AdaIN decoder needs its encoder): build the net and pass it to TorchEngine")
        io = GRAPH_IO.get((kind, method))
        if io is None:
            raise ModelError(f"a {ckpt['arch']} net has no '{method}' graph; "
                             f"choose from {sorted(m for k, m in GRAPH_IO if k == kind)}")
        if method == "style_stats":
            options.setdefault("fp16", False)   # once per style: the exported style graph is fp32 too
        inputs, outputs, clamp = io
        return cls(build_model(ckpt), inputs, outputs, method=method, clamp=clamp,
                   name=Path(path).stem, **options)

    @property
    def backend(self) -> str:
        return "torch-cuda" if self.on_gpu else "torch-cpu"

    @property
    def providers(self) -> list[str]:
        """What the ORT engine's ``providers`` says, so code that logs it keeps working."""
        return [self.backend]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise InputError(f"graph {self.name} needs inputs {missing}; got {sorted(feeds)}")
        tensors = [torch.from_numpy(np.ascontiguousarray(feeds[n], dtype=np.float32))
                   for n in self.input_names]
        # One copy back per output; on CUDA the .cpu() also waits for the GPU.
        return [out.cpu().numpy() for out in self.run_tensors(tensors)]

    def run_tensors(self, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Tensors in (any device), float32 tensors out on the engine's device.

        With CUDA graphs the outputs are the graph's own buffers: valid until the next call.
        """
        inputs = [x.to(self.device, non_blocking=True) for x in inputs]
        with torch.inference_mode(), self._conv_flags():
            if not self.cuda_graphs:
                return [self.module(*(self._layout(x) for x in inputs))]
            key = tuple(tuple(x.shape) for x in inputs)
            if key not in self._graphs:
                self._capture(key, inputs)
            if key not in self._graphs:   # capture failed: run eagerly from now on
                return [self.module(*(self._layout(x) for x in inputs))]
            graph, static_in, static_out = self._graphs[key]
            for buffer, x in zip(static_in, inputs):
                buffer.copy_(x)
            graph.replay()
            return [static_out]

    def clear_graphs(self) -> None:
        """Forget the captured CUDA graphs and so free their memory pools (a stream changed size)."""
        self._graphs.clear()

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

    @contextlib.contextmanager
    def _conv_flags(self):
        """cuDNN autotuning (frame sizes repeat, so the search pays) and TF32 as asked, restored after:
        these are process-wide switches and training in the same process may want others."""
        if not self.on_gpu:
            yield
            return
        cudnn = torch.backends.cudnn
        saved = cudnn.benchmark, cudnn.allow_tf32
        cudnn.benchmark, cudnn.allow_tf32 = True, self.tf32
        try:
            yield
        finally:
            cudnn.benchmark, cudnn.allow_tf32 = saved

    def _capture(self, key: tuple, inputs: list[torch.Tensor]) -> None:
        if len(self._graphs) >= MAX_CAPTURED_SHAPES:
            self._graphs.pop(next(iter(self._graphs)))
        static_in = [self._layout(torch.empty_like(x)) for x in inputs]
        for buffer, x in zip(static_in, inputs):
            buffer.copy_(x)
        try:
            # Warm-up on a side stream first: cuDNN's autotuning and lazy initialisation must not
            # happen during capture (graph capture forbids synchronising calls).
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                for _ in range(3):
                    self.module(*static_in)
            torch.cuda.current_stream(self.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.module(*static_in)
        except RuntimeError as exc:
            log.warning("CUDA graph capture of %s failed (%s); running it eagerly",
                        self.name, str(exc).splitlines()[0][:160])
            self.cuda_graphs = False
            return
        self._graphs[key] = (graph, static_in, static_out)
