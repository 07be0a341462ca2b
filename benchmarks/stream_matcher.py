"""Matching rate of collectors/matcher.py: generated posts against many brands, on one core.

    python benchmarks/stream_matcher.py [--brands 50] [--keywords 10] [--posts 200000] [--target 2000]

Builds `--brands` brands of `--keywords` keywords (plus a handle and an exclusion each), generates post texts
(collectors/replay.py; 1% mention a brand, as on the real Bluesky firehose most posts mention none), and
times `Matcher.match` over all of them in this one thread (CPU time, so other load on the machine does not
count). Prints posts/s, peak RSS and the hit count; exits 1 below `--target` posts/s or above `--max-rss-mb`.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.matcher import Matcher  # noqa: E402
from collectors.replay import synthetic_rules, synthetic_text  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brands", type=int, default=50)
    parser.add_argument("--keywords", type=int, default=10)
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--hit-rate", type=float, default=0.01)
    parser.add_argument("--target", type=float, default=2000.0, help="minimum posts per CPU-second")
    parser.add_argument("--max-rss-mb", type=float, default=300.0)
    args = parser.parse_args()

    rules = synthetic_rules(args.brands, args.keywords)
    rng = random.Random(3)
    texts = [synthetic_text(rng, rules, args.hit_rate) for _ in range(args.posts)]
    t0 = time.process_time()
    matcher = Matcher(rules)
    compile_s = time.process_time() - t0
    t0 = time.process_time()
    hits = sum(1 for text in texts if matcher.match(text))
    cpu = time.process_time() - t0
    rate = len(texts) / cpu if cpu else float("inf")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mean_chars = sum(map(len, texts)) / len(texts)
    print("| brands x keywords | posts | mean chars | compile | posts/s (one core, CPU time) | matched | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.brands} x {args.keywords} | {len(texts):,} | {mean_chars:.0f} | {compile_s * 1000:.1f} ms | "
          f"{rate:,.0f} | {hits:,} | {rss_mb:.0f} MB |")
    print(f"load average: {open('/proc/loadavg').read().strip()}  pid {os.getpid()}")
    ok = rate >= args.target and rss_mb <= args.max_rss_mb
    if not ok:
        print(f"FAILED: target {args.target:,.0f} posts/s and {args.max_rss_mb:.0f} MB", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
