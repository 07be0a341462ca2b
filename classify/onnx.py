"""The fast path: export the multi-task network to ONNX, quantise it to int8, and run it with
ONNX Runtime. Building needs torch (once, into a cache); running needs onnxruntime alone."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

from classify.base import ModelError

logger = logging.getLogger(__name__)

OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("sentiment_probs", "intent_probs", "embedding")
# Bumped whenever the exported graph changes (2: the unit-length sentence embedding as a third output),
# so a cache built by an older release is rebuilt rather than read with a missing output.
GRAPH_VERSION = 2
# ORT's fused residual-add + LayerNorm kernel ran slower on our small batches than the plain Add and
# LayerNormalization it replaces (the whole int8 model ran ~25% faster per core without it, on a
# Xeon with AVX-512). fp32 outputs are bit-identical either way; int8 ones move within the noise of
# dynamic quantisation (99.7% same labels, the same agreement with fp32). Re-measured on a 2-core AMD
# EPYC (Zen 4, AVX-512 VNNI, no AMX; benchmarks/classify_ceiling.py's method, one thread, same batches):
# with the fusion 8-18% slower. Also measured there and not kept, int8 per CPU-second against this graph
# (~390 texts): onnxruntime.transformers.optimizer's fused Attention quantised to QAttention -6%, its
# MultiHeadAttention fed by the quantised Q/K/V MatMuls -3%, fp32 Attention (Q/K/V unquantised) -35%,
# FastGelu -3%, batches of 8/32/64 instead of 16 within +-5% noise, one session with 2 intra-op threads
# instead of two single-threaded ones -10% (-50% with spinning). The weight MatMuls alone (int8, same
# shapes) run at ~560 texts per CPU-second, so what is left outside them is at most ~30% of the time.
UNFUSED = ["SkipLayerNormFusion"]


def export_fp32(weights: dict[str, np.ndarray], base_dir: Path, path: Path) -> None:
    """Write the fp32 ONNX graph (probabilities out) for the given fine-tuned weights."""
    try:
        import torch
    except ImportError as exc:
        raise ModelError("building the ONNX model needs torch once: pip install torch "
                         "(CPU build), or copy a built cache from another machine") from exc
    from classify.model import ProbsWrapper, build_model

    model = ProbsWrapper(build_model(base_dir, weights)).eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "sentiment_probs": {0: "batch"}, "intent_probs": {0: "batch"}, "embedding": {0: "batch"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        # the TorchScript exporter: no onnxscript dependency, and our plain graph needs nothing newer
        torch.onnx.export(model, (ids, mask), str(path), input_names=list(INPUTS), output_names=list(OUTPUTS),
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation of the MatMul weights (activations quantised on the fly). The word
    embedding Gather stays fp32: quantising it saves disk, not time, and costs accuracy."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the quantiser logs advice at WARNING on the root logger; it is a one-off build step, so hush it
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
    finally:
        logging.disable(previous)


def build(weights: dict[str, np.ndarray], base_dir: Path, directory: Path) -> tuple[Path, Path]:
    """fp32 and int8 graphs into `directory`, each written under a temporary name and renamed, so a
    crash or a second process never leaves a half-written model behind."""
    directory.mkdir(parents=True, exist_ok=True)
    fp32, int8 = directory / "model.fp32.onnx", directory / "model.int8.onnx"
    t0 = time.perf_counter()
    tmp32 = directory / f".fp32.{os.getpid()}.onnx"
    tmp8 = directory / f".int8.{os.getpid()}.onnx"
    try:
        export_fp32(weights, base_dir, tmp32)
        quantize_int8(tmp32, tmp8)
        os.replace(tmp32, fp32)
        os.replace(tmp8, int8)
    finally:
        for t in (tmp32, tmp8):
            t.unlink(missing_ok=True)
    logger.info("built ONNX models in %s in %.1f s", directory, time.perf_counter() - t0)
    return fp32, int8


def usable_cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    return len(affinity(0)) if affinity else os.cpu_count() or 1


@lru_cache(maxsize=None)
def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per worker count, shared by every runner in the process (threads start on demand)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="onnx")


Batch = tuple[np.ndarray, np.ndarray]
Outputs = tuple[np.ndarray, np.ndarray, np.ndarray]  # sentiment probs, intent probs, unit embeddings


class OnnxRunner:
    """One ONNX Runtime session; `run` maps padded token ids to (sentiment, intent) probabilities and
    the unit-length sentence embedding, all from the one encoder pass.

    Each batch runs on one core, and `run_many` spreads batches over `threads` workers. Our batches
    are small (16 tweets, ~30 tokens), and splitting one of them across cores (ORT's intra-op
    threads) bought little: on 2 cores two single-threaded batches side by side did ~15% more work
    than one two-threaded batch, and no thread ever busy-waits. ORT releases the GIL while it runs,
    so the caller's Python work (language detection) overlaps the batches."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError("onnxruntime is not installed") from exc
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        # attention softmax over padded positions underflows into denormals, which the FPU handles
        # slowly: flushing them to zero made Softmax a third faster and changes no probability
        opts.add_session_config_entry("session.set_denormal_as_zero", "1")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"],
                                                disabled_optimizers=UNFUSED)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelError(f"cannot load ONNX model {path}: {exc}") from exc
        self.path = path
        # the cores this process may use, not the host's count (containers, taskset)
        self.workers = max(1, threads or usable_cores())

    def run(self, ids: np.ndarray, mask: np.ndarray) -> Outputs:
        s, i, e = self.session.run(list(OUTPUTS), {"input_ids": ids, "attention_mask": mask})
        return s, i, e

    def run_many(self, batches: Iterable[Batch]) -> Iterator[Outputs]:
        """Results in order. Every batch is queued before this returns, so the caller can do other
        work while they run and collect the results afterwards."""
        if self.workers == 1:
            return iter([self.run(x, m) for x, m in batches])
        return _pool(self.workers).map(lambda xm: self.run(*xm), batches)


class TorchRunner:
    """The PyTorch fallback, for machines where onnxruntime can't run."""

    def __init__(self, weights: dict[str, np.ndarray], base_dir: Path, device: str = "cpu") -> None:
        try:
            import torch
        except ImportError as exc:
            raise ModelError("the PyTorch backend needs torch: pip install torch") from exc
        from classify.model import ProbsWrapper, build_model

        self._torch = torch
        self.device = device
        self.model = ProbsWrapper(build_model(base_dir, weights)).eval().to(device)

    def run(self, ids: np.ndarray, mask: np.ndarray) -> Outputs:
        t = self._torch
        with t.inference_mode():
            s, i, e = self.model(t.from_numpy(ids).to(self.device), t.from_numpy(mask).to(self.device))
        return s.float().cpu().numpy(), i.float().cpu().numpy(), e.float().cpu().numpy()

    def run_many(self, batches: Iterable[Batch]) -> Iterator[Outputs]:
        return (self.run(x, m) for x, m in batches)  # torch parallelises inside each batch
