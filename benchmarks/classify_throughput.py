"""Throughput, memory and load time of `careline classify` on 10,000 tweet-length texts.

    python benchmarks/classify_throughput.py [--texts 10000] [--baseline-sample 200] [--data ../shared/data]
                                             [--target 1000] [--speedup 10] [--model careline-minilm|DIR]

Measured in one run:
  * end to end: the real `careline classify --input F --output O` command in a child process (start-up,
    model load, tokenising, ONNX int8, language detection, JSONL out); its peak RSS comes from wait4();
  * naive baseline: the same fine-tuned network through `transformers.pipeline("feature-extraction")`,
    one text at a time (mean pooling and the two heads applied after it), timed on a sample of
    --baseline-sample texts and extrapolated to all of them (said so in the table);
  * warm load: a fresh process that imports classify and loads the (already built) model;
  * first-use build: the ONNX export + int8 quantisation into an empty cache;
  * what the hardware allows (classify_ceiling.py): the int8 network alone and the GEMM-only ceiling
    (its weight MatMuls and nothing else), per CPU-second on one core, on the same batch shapes.
Targets (issue #19): >= 1,000 texts/s end to end, >= 10x the baseline in the same run, RSS <= 1 GB.
The machine's load average is printed too: on a shared 2-core box other processes take CPU, so the
table also gives the rate per CPU-second of the child (x2 cores) as an estimate for an idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classify_ceiling import batches_for, gemm_ceiling, network_rate  # this script's folder is on sys.path

SYNTHETIC = ["{b} lost my bag in Lisbon and nobody answers the phone, third time this year",
             "Thanks {b}, smooth flight and a lovely crew! Will fly again 🙌",
             "Does {b} allow a guitar as cabin luggage? Flying to Oslo next week",
             "¿{b} perdió mi maleta? Llevo tres días esperando 😡",
             "Booked {b} to Oslo for May, can't wait", "@{b} my refund still hasn't arrived after 6 weeks",
             "Is the {b} app down for anyone else? Can't log in", "{b} customer service is the best, sorted in 5 min"]


def texts_for(n: int, data: Path | None) -> list[str]:
    rng = random.Random(7)
    pool: list[str] = []
    if data is not None and (data / "semeval-sentiment").is_dir():
        from classify.data import load_ibm_first_turns, load_semeval

        pool = [e.text for e in load_semeval(data, set())] + load_ibm_first_turns(data)
    if not pool:
        pool = [t.format(b=b) for t in SYNTHETIC for b in ("Iberia", "KLM", "Acme", "Zalando")]
    return [rng.choice(pool).replace("\n", " ") for _ in range(n)]


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall seconds, peak RSS MB, CPU seconds, stdout) of a child process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{args} failed with {os.waitstatus_to_exitcode(status)}:\n{err.read()[-3000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, out


def cache_model(cache: Path) -> Path:
    """The int8 graph the probe built into the benchmark's own cache."""
    found = sorted(cache.glob("*/model.int8.onnx"))
    if not found:
        raise SystemExit(f"no int8 model was built into {cache}")
    return found[-1]


def baseline_rate(texts: list[str]) -> float:
    """Texts per second through transformers.pipeline, one at a time (fp32 PyTorch)."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertModel, pipeline

    from classify.artifact import base_model_dir, load_artifact
    from classify.text import preprocess

    _, weights = load_artifact()
    tmp = Path(tempfile.mkdtemp(prefix="careline-baseline-"))
    config = BertConfig.from_pretrained(str(base_model_dir()))
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(v) for k, v in weights.items() if not k.startswith("heads.")}
    model.load_state_dict(state, strict=False)
    model.save_pretrained(tmp)
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (base_model_dir() / f).exists():
            (tmp / f).write_bytes((base_model_dir() / f).read_bytes())
    pipe = pipeline("feature-extraction", model=str(tmp), tokenizer=str(tmp), device="cpu",
                    tokenize_kwargs={"truncation": True, "max_length": 128})
    shutil.rmtree(tmp, ignore_errors=True)  # loaded; each run left ~90 MB behind in /tmp
    ws, bs = weights["heads.sentiment.weight"], weights["heads.sentiment.bias"]
    wi, bi = weights["heads.intent.weight"], weights["heads.intent.bias"]
    pipe(preprocess(texts[0]))  # warm-up
    t0 = time.perf_counter()
    for t in texts:
        pooled = np.asarray(pipe(preprocess(t))[0]).mean(0)
        _ = (ws @ pooled + bs).argmax(), (wi @ pooled + bi).argmax()
    return len(texts) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=10_000)
    ap.add_argument("--baseline-sample", type=int, default=200)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--target", type=float, default=1000.0, help="end-to-end texts/s (issue #19)")
    ap.add_argument("--speedup", type=float, default=10.0, help="times the naive baseline (issue #19)")
    ap.add_argument("--model", default="careline-minilm",
                    help="the model to time: careline-minilm or an artefact folder (e.g. a copy without its fusion)")
    a = ap.parse_args()
    data = a.data if a.data.is_dir() else None
    texts = texts_for(a.texts, data)
    work = Path(tempfile.mkdtemp(prefix="careline-bench-"))
    infile, outfile = work / "posts.txt", work / "labels.jsonl"
    infile.write_text("\n".join(texts) + "\n", encoding="utf-8")
    cache = work / "cache"
    env = {**os.environ, "CARELINE_MODEL_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "CARELINE_MODEL": a.model}
    py = sys.executable
    load0 = os.getloadavg()[0]
    probe = ("import time; t=time.perf_counter(); from classify import load_classifier; "
             f"c=load_classifier({a.model!r}); print(time.perf_counter()-t)")
    build = float(run_child([py, "-c", probe], env)[3].strip().splitlines()[-1])
    warm = min(float(run_child([py, "-c", probe], env)[3].strip().splitlines()[-1]) for _ in range(2))
    careline = str(Path(py).with_name("careline"))
    cmd = [careline, "classify", "--input", str(infile), "--output", str(outfile)] if Path(careline).exists() \
        else [py, "-m", "careline.cli", "classify", "--input", str(infile), "--output", str(outfile)]
    wall, rss, cpu, _ = run_child(cmd, env)
    lines = outfile.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(texts), f"{len(lines)} labels for {len(texts)} texts"
    version = json.loads(lines[0])["model"]
    rate = len(texts) / wall
    base = baseline_rate(texts[: a.baseline_sample])
    batches = batches_for(texts[:3000])
    network = network_rate(cache_model(cache), batches, min(len(texts), 3000))
    ceiling = gemm_ceiling(batches, min(len(texts), 3000))
    load1 = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"\n## `careline classify` throughput ({len(texts):,} tweet-length texts, {os.cpu_count()} CPU cores)\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| model | `{version}` | |")
    print(f"| end to end, wall clock (process start to last line written) | **{rate:,.0f} texts/s** ({wall:.1f} s) "
          f"| ≥ {a.target:.0f}/s |")
    print(f"| end to end per CPU-second x {os.cpu_count()} cores (idle-machine estimate) "
          f"| {len(texts) / cpu * (os.cpu_count() or 1):,.0f} texts/s | |")
    print(f"| naive baseline: transformers.pipeline, one text at a time, fp32 (timed on {a.baseline_sample} "
          f"texts, extrapolated) | {base:,.1f} texts/s (≈ {len(texts) / base:,.0f} s for all) | |")
    print(f"| speed-up over the baseline | **{rate / base:.1f}x** | ≥ {a.speedup:.0f}x |")
    print(f"| peak RSS of the classify process | {rss:,.0f} MB | ≤ 1024 MB |")
    print(f"| warm load (import + load, model cached) | {warm:.2f} s | ≤ 5 s |")
    print(f"| first use: build ONNX fp32 + int8 into an empty cache (includes load) | {build:.1f} s | < 60 s |")
    print(f"| int8 network alone (3,000 texts, thread CPU clock) x {cores} cores | {network * cores:,.0f} texts/s | |")
    print(f"| GEMM-only ceiling: its weight MatMuls alone, same shapes, x {cores} cores | {ceiling * cores:,.0f} texts/s | |")
    print(f"| machine load average (1 min) before / after | {load0:.1f} / {load1:.1f} | |")
    ok = rate >= a.target and rate / base >= a.speedup and rss <= 1024 and warm <= 5
    shutil.rmtree(work, ignore_errors=True)  # its model cache is ~200 MB
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
