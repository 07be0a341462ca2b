"""How fast the classifier's network can go on this machine: two figures per CPU-second, one core.

    python benchmarks/classify_ceiling.py [--texts 3000] [--data ../shared/data]

  * network: the built int8 ONNX model alone (`OnnxRunner.run` on the length-bucketed batches `careline
    classify` makes), timed with the thread's CPU clock, so other jobs on a shared box barely move it;
  * GEMM-only ceiling: the encoder's weight MatMuls and nothing else (per layer Q, K, V, output, and the
    two feed-forward ones, dynamic int8 per channel exactly as `classify.onnx.quantize_int8` builds them)
    on the same batch shapes. No runtime change can make the network faster than this without changing
    the model (fewer layers or narrower ones) or the arithmetic (a CPU with faster int8 units, e.g. AMX).

`classify_throughput.py` prints both beside the end-to-end rate; on 2 cores, 1,000 texts/s end to end
needs ≥ 500 texts per CPU-second for everything (model, tokenising, language detection, JSON, start-up).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Batch = tuple[np.ndarray, np.ndarray]


def batches_for(texts: list[str]) -> list[Batch]:
    """The padded (ids, mask) batches `CarelineMiniLM` runs for these texts."""
    from classify.artifact import DEFAULT_DIR, ArtifactConfig, base_model_dir
    from classify.minilm import bucket_batches
    from classify.text import preprocess
    from classify.tokenize import Tokenizer

    config = ArtifactConfig.load(DEFAULT_DIR)
    tok = Tokenizer(base_model_dir() / "tokenizer.json", config.max_len)
    ids = tok.encode([preprocess(t, emoji_words=config.emoji_words) for t in texts])
    return [Tokenizer.pad([ids[i] for i in b]) for b in bucket_batches([len(x) for x in ids])]


def _cpu_rate(run, inputs: list, texts: int, rounds: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Best of `rounds` passes, texts per CPU-second of this thread (ORT runs single-threaded in it)."""
    run(inputs[0])
    best = 0.0
    for _ in range(rounds):
        c0 = time.thread_time()
        for x in inputs:
            run(x)
        best = max(best, texts / (time.thread_time() - c0))
    return best


def network_rate(model: Path, batches: list[Batch], texts: int) -> float:
    from classify.onnx import OnnxRunner

    runner = OnnxRunner(model, threads=1)
    return _cpu_rate(lambda xm: runner.run(*xm), batches, texts)


def gemm_ceiling(batches: list[Batch], texts: int) -> float:
    """Texts per CPU-second of the encoder's weight MatMuls alone (random weights: the time does not
    depend on their values), chained in one graph so per-call overhead is ORT's, as in the model."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from classify.artifact import base_model_dir
    from classify.onnx import OPSET, quantize_int8

    cfg = json.loads((base_model_dir() / "config.json").read_text(encoding="utf-8"))
    hidden, inter = cfg["hidden_size"], cfg["intermediate_size"]
    shapes = [(hidden, hidden)] * 4 + [(hidden, inter), (inter, hidden)]
    rng = np.random.default_rng(0)
    nodes, weights, cur = [], [], "x"
    for k, (a, b) in enumerate(shapes * cfg["num_hidden_layers"]):
        weights.append(numpy_helper.from_array((rng.standard_normal((a, b)) * 0.05).astype(np.float32), f"w{k}"))
        nodes.append(helper.make_node("MatMul", [cur, f"w{k}"], [f"y{k}"]))
        cur = f"y{k}"
    graph = helper.make_graph(nodes, "gemms", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", hidden])],
                              [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["m", hidden])], weights)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "gemms.fp32.onnx", Path(tmp) / "gemms.int8.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), str(fp32))
        quantize_int8(fp32, int8)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(int8), opts, providers=["CPUExecutionProvider"])
    xs = [(rng.standard_normal((ids.size, hidden)) * 0.5).astype(np.float32) for ids, _ in batches]
    return _cpu_rate(lambda x: session.run(None, {"x": x}), xs, texts)


def main() -> None:
    from classify_throughput import texts_for  # this script's folder is on sys.path

    from classify import load_classifier

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=3000)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    a = ap.parse_args()
    texts = texts_for(a.texts, a.data if a.data.is_dir() else None)
    batches = batches_for(texts)
    model = load_classifier("careline-minilm").runner.path  # type: ignore[attr-defined]
    print(f"network (int8 ONNX alone): {network_rate(model, batches, len(texts)):,.0f} texts per CPU-second")
    print(f"GEMM-only ceiling:         {gemm_ceiling(batches, len(texts)):,.0f} texts per CPU-second")


if __name__ == "__main__":
    main()
