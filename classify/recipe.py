"""The recipe that produces the shipped artefact, as a chain of trainings, and `careline train` around it.

The shipped model is not one training but a chain, each stage continuing from the one before
(classify/finetune.py):

- revision 2: MiniLM from the base encoder on the English sets, 3 epochs (~4 minutes on a GPU, well
  over an hour on two CPU cores);
- revision 3: one epoch from revision 2 on the XLM-T train tweets in 8 languages, the brand sample's
  train part 5x and an 8% replay of the English sets, emoji as words (~25 minutes on one CPU thread).

`careline train` with no options runs the whole chain, so it rebuilds what ships; `--init DIR` starts
from an existing artefact and runs only the stages after its revision (`--init` revision 2's files from
commit 0d4a8d4 reproduces revision 3 alone). Each intermediate stage is kept in the model cache under
training/, named by a hash of its settings, data folder and corrections, and every stage checkpoints
itself (classify/checkpoint.py), so a stopped `careline train` carries on where it stopped."""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from classify.artifact import CONFIG_FILE, ArtifactConfig, default_cache_dir
from classify.train import TrainSettings, train

logger = logging.getLogger(__name__)

REVISION_2 = TrainSettings(emoji_words=False, revision=2)  # its training input had emoji as [UNK]
REVISION_3 = TrainSettings(languages="all", multilingual_repeat=1, replay=0.08, xci_repeat=1, brand_repeat=5,
                           epochs=1, lr=5e-5, head_lr=5e-4, ema=0.99, revision=3)
SHIPPED = (REVISION_2, REVISION_3)

# runs one training: (label for progress, artefact folder or None, settings, soft-label output or None,
# checkpoint file) -> metrics
Runner = Callable[[str, "Path | None", TrainSettings, "Path | None", "Path | None"], dict]


def stages(epochs: int | None = None, init: Path | None = None) -> list[TrainSettings]:
    """The shipped recipe's stages, from `init` on when given (only those after its revision), each with
    `epochs` epochs when given. A ValueError when `init` is already at the recipe's last revision."""
    chain = list(SHIPPED)
    if init is not None:
        revision = ArtifactConfig.load(init).revision
        chain = [s for s in chain if s.revision > revision]
        if not chain:
            raise ValueError(f"{init} is revision {revision}: the recipe has no later stage to train")
        chain[0] = replace(chain[0], init=str(init))
    return [replace(s, epochs=epochs) for s in chain] if epochs else chain


def _key(settings: TrainSettings, data: Path, corrections: list | None) -> str:
    raw = json.dumps([asdict(settings), str(data.resolve()), corrections or []], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def train_all(data: Path, target: Path, chain: list[TrainSettings], *, cv: bool = False, distil: bool = False,
              teacher_epochs: int = 2, cache_dir: Path | None = None,
              corrections: list[tuple[str, str | None, str | None]] | None = None,
              run: Runner | None = None) -> tuple[dict, dict]:
    """The whole `careline train`: with `distil`, first the mpnet teacher (one per fold with `cv`) for the
    chain's first stage; then the chain into `target`; with `cv`, the chain once more per X-CI fold, each
    fold held out of every stage. Writes training_metrics.json beside the model; returns (the model's
    metrics, all metrics). `run` lets the caller draw progress per training (default: plain `train`)."""
    def plain(_label: str, out: Path | None, s: TrainSettings, soft_out: Path | None, ckpt: Path | None) -> dict:
        return train(data, out, s, corrections=corrections, soft_out=soft_out, checkpoint=ckpt)

    run = run or plain
    cache = (cache_dir or default_cache_dir()) / "training"
    folds = range(5) if cv else range(0)
    soft: dict[int, Path] = {}
    if distil:
        teacher = replace(chain[0], arch="mpnet", lr=5e-5, epochs=teacher_epochs, init="")
        (cache.parent / "teacher").mkdir(parents=True, exist_ok=True)
        for k in [-1, *folds]:
            soft[k] = cache.parent / "teacher" / f"soft_{'full' if k < 0 else f'fold{k}'}.npz"
            s = replace(teacher, fold=k)
            run("teacher" if k < 0 else f"teacher, fold {k + 1}/5", None, s, soft[k],
                cache / f"teacher-{_key(s, data, corrections)}.pt")

    def chained(label: str, out: Path | None, fold: int) -> dict:
        """Every stage in turn, each from the previous one's artefact (kept in the cache and reused)."""
        previous: Path | None = None
        for n, s in enumerate(chain):
            s = replace(s, fold=fold)
            if previous is not None:
                s = replace(s, init=str(previous))
            if n == 0 and distil:  # the shipped model learns from every teacher (averaged); a fold's only from its own
                s = replace(s, teacher=",".join(str(p) for p in soft.values()) if fold < 0 else str(soft[fold]))
            key = _key(s, data, corrections)
            name = f"{label}, revision {s.revision}" if len(chain) > 1 else label
            if n == len(chain) - 1:
                return run(name, out, s, None, cache / f"checkpoint-{key}.pt")
            folder = cache / f"revision-{s.revision}-{key}"
            if (folder / CONFIG_FILE).is_file():
                logger.info("%s: reusing %s, trained earlier with the same settings", name, folder)
            else:
                run(name, folder, s, None, cache / f"checkpoint-{key}.pt")
            previous = folder
        raise ValueError("the training recipe has no stages")

    result = chained("model", target, -1)
    metrics: dict = {"final_model": result, "stages": [asdict(s) for s in chain]}
    if cv:
        rows = []
        for k in folds:
            r = chained(f"cross-validation fold {k + 1}/5", None, k)
            rows.append({"fold": k, "macro_f1": r["final"]["xci_holdout_macro_f1"],
                         "macro_f1_p50": r["final"]["xci_holdout_macro_f1_p50"]})
        metrics["xci_cv_folds"] = rows
    (target / "training_metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    return result, metrics
