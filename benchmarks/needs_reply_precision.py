"""Precision of the "needs a reply" triage on the labelled sample (docs/needs-reply.md).

    python benchmarks/needs_reply_precision.py [--model careline-minilm] [--sample docs/data/needs_reply_sample.csv]

Classifies the sample's posts with the model (its intent feeds the rule, as in production), applies
`classify.needs_reply.judge`, and prints precision and recall for "needs a reply" and for "no reply
needed" (the costly mistake: a real complaint hidden as needing nothing), per kind of post, and the
posts it got wrong. Exit status 1 when either precision is under --target.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classify import load_classifier  # noqa: E402
from classify.needs_reply import judge  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="careline-minilm")
    ap.add_argument("--sample", type=Path, default=ROOT / "docs" / "data" / "needs_reply_sample.csv")
    ap.add_argument("--target", type=float, default=0.85)
    a = ap.parse_args()
    with a.sample.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    clf = load_classifier(a.model)
    labels = clf.classify([r["text"] for r in rows])
    tp = fp = fn = tn = 0
    per_kind: Counter[str] = Counter()
    right: Counter[str] = Counter()
    wrong = []
    for r, lab in zip(rows, labels):
        truth = r["needs_reply"] == "1"
        verdict = judge(r["text"], lab.intent)
        per_kind[r["kind"]] += 1
        right[r["kind"]] += verdict.needs_reply == truth
        if verdict.needs_reply and truth:
            tp += 1
        elif verdict.needs_reply:
            fp += 1
            wrong.append(("said needs a reply", verdict.reason, lab.intent, r["text"]))
        elif truth:
            fn += 1
            wrong.append(("said no reply needed", verdict.reason, lab.intent, r["text"]))
        else:
            tn += 1
    p_yes, r_yes = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    p_no, r_no = tn / max(tn + fn, 1), tn / max(tn + fp, 1)
    print(f"\n## Needs-a-reply triage on {len(rows)} labelled posts (model `{clf.version}`)\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| precision of 'needs a reply' | **{p_yes:.1%}** ({tp} of {tp + fp}) |")
    print(f"| recall of 'needs a reply' | {r_yes:.1%} ({tp} of {tp + fn}) |")
    print(f"| precision of 'no reply needed' | **{p_no:.1%}** ({tn} of {tn + fn}) |")
    print(f"| recall of 'no reply needed' | {r_no:.1%} ({tn} of {tn + fp}) |")
    print("| right, per kind | " + ", ".join(f"{k} {right[k]}/{n}" for k, n in sorted(per_kind.items())) + " |")
    print(f"| load average | {' '.join(f'{x:.2f}' for x in os.getloadavg())} |")
    if wrong:
        print("\nWrong:")
        for what, reason, intent, text in wrong:
            print(f"- {what} ({reason}; model intent {intent}): {text}")
    sys.exit(0 if min(p_yes, p_no) >= a.target else 1)


if __name__ == "__main__":
    main()
