"""Fine-tune MiniLM with a sentiment head and an intent head on the labelled sets in shared/data.

    careline train --data ../shared/data             # the shipped recipe, a chain of these (classify/recipe.py)
    python -m classify.train --data D --fold 2        # one X-CI cross-validation fold (no artefact)
    python -m classify.train --data D --arch mpnet --soft-out soft.npz   # the teacher (classify/teacher.py)
    python -m classify.train --data D --teacher soft.npz --output DIR    # MiniLM distilled from it

Reproducible: fixed seeds, deterministic data order; the settings land in the artefact's config.json."""
from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from classify import finetune, multilingual
from classify.artifact import (
    ArtifactConfig,
    base_model_dir,
    load_base,
    save_artifact,
    sha256,
)
from classify.base import INTENTS, SENTIMENTS
from classify.checkpoint import Checkpointer, Position
from classify.data import (
    INTENT_IDX,
    NOT_COMPLAINT,
    SENT_IDX,
    Example,
    load_goemotions,
    load_goemotions_texts,
    load_tweeteval_val,
    load_xci,
    training_pool,
    xci_folds,
)
from classify.metrics import confusion, macro_f1, macro_recall, per_class
from classify.model import build_model, state_numpy
from classify.text import dedupe_key, preprocess
from classify.tokenize import Tokenizer

logger = logging.getLogger(__name__)
COMPLAINT = INTENT_IDX["complaint"]


@dataclass
class TrainSettings:
    epochs: int = 3
    lr: float = 1e-4
    head_lr: float = 1e-3
    batch_size: int = 64
    warmup: float = 0.06
    weight_decay: float = 0.01
    label_smoothing: float = 0.05
    xci_repeat: int = 10  # X-CI is small and is the product's own domain: see it more often
    goemotions_weight: float = 0.5  # Reddit emotions are a looser notion of complaint than X-CI's
    sentiment_balance: float = 0.5  # class weight ~ freq**-balance: the metric is macro recall
    balance_logits: bool = True  # after training, shift the sentiment logits by the rest, -(1 - balance) * log prior
    sentiment_only: bool = False  # ablation: no intent data at all
    ema: float = 0.999  # evaluate and ship an exponential moving average of the weights (0: off)
    layer_decay: float = 1.0  # layer-wise LR decay: layer k of L trains at lr * decay**(L - k)
    corrections_repeat: int = 3
    topic: bool = False
    max_len: int = 128
    seed: int = 13
    fold: int = -1  # hold out this X-CI fold (cross-validation); -1 trains on all of it
    arch: str = "minilm"  # "mpnet": train the all-mpnet-base-v2 teacher instead (never shipped)
    teacher: str = ""  # soft-label files (comma-separated, averaged) from teacher runs: distil from them
    distill: float = 1.0  # weight of the soft-label loss against the teacher, beside the hard labels
    transfer: bool = True  # with a teacher: also learn its labels on unlabelled texts (teacher.transfer_examples)
    emoji_words: bool = True  # emoji and emoticons as words (classify.text.emoji_to_words); revision 3 on
    # continued fine-tuning (classify/finetune.py)
    init: str = ""  # start from this artefact's weights instead of the base encoder with fresh heads
    languages: str = ""  # multilingual train tweets to add: "es,fr" or "all" (classify.multilingual)
    multilingual_repeat: int = 1
    brand_repeat: int = 0  # times the brand sample's train part is seen per epoch (0: not used)
    replay: float = 1.0  # share of the English sentiment and GoEmotions examples kept (X-CI always whole)
    # also fine-tune the word embeddings (frozen before: the uncased English vocabulary's sub-words for
    # other languages never moved); the delta then carries them too (classify.artifact.pack_delta)
    train_embeddings: bool = False
    revision: int = 3  # written into the artefact's config


def _batches(lengths: list[int], batch: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: less padding, same randomness across runs."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out = []
    chunk = batch * 50
    for s in range(0, len(order), chunk):
        part = sorted(order[s: s + chunk], key=lambda i: lengths[i])
        out += [part[j: j + batch] for j in range(0, len(part), batch)]
    rng.shuffle(out)
    return out


def _intent_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for known intents; for X-CI non-complaints (NOT_COMPLAINT) the loss is
    -log P(not complaint), which leaves the split among the other three intents free."""
    known = (target >= 0) & (target < NOT_COMPLAINT)
    partial = target == NOT_COMPLAINT
    total = logits.new_zeros(())
    n = weight[known].sum() + weight[partial].sum()
    if not (known.any() or partial.any()):
        return total
    if known.any():
        ce = F.cross_entropy(logits[known], target[known], reduction="none")
        total = total + (ce * weight[known]).sum()
    if partial.any():
        lp = logits[partial].float().log_softmax(-1)
        others = [i for i in range(lp.shape[1]) if i != COMPLAINT]
        total = total - (torch.logsumexp(lp[:, others], dim=-1) * weight[partial]).sum()
    return total / n


@torch.no_grad()
def _swap(params: list[torch.Tensor], values: list[torch.Tensor]) -> list[torch.Tensor]:
    """Copy `values` into `params`, returning the previous contents (no-op without values)."""
    if not values:
        return []
    old = [p.detach().clone().float() for p in params]
    for p, v in zip(params, values):
        p.copy_(v)
    return old


@torch.no_grad()
def predict(model: torch.nn.Module, tok: Tokenizer, texts: list[str], device: str,
            batch: int = 256, emoji_words: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Sentiment and intent probabilities, in input order."""
    model.eval()
    ids = tok.encode([preprocess(t, emoji_words=emoji_words) for t in texts])
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    s_out = np.zeros((len(ids), len(SENTIMENTS)), np.float32)
    i_out = np.zeros((len(ids), len(INTENTS)), np.float32)
    for k in range(0, len(order), batch):
        idx = order[k: k + batch]
        x, m = Tokenizer.pad([ids[i] for i in idx])
        s, it = model(torch.from_numpy(x).to(device), torch.from_numpy(m).to(device))
        s_out[idx] = s.float().softmax(-1).cpu().numpy()
        i_out[idx] = it.float().softmax(-1).cpu().numpy()
    return s_out, i_out


def quick_eval(model: torch.nn.Module, tok: Tokenizer, data: Path, device: str,
               xci_holdout: list[Example] | None = None, settings: TrainSettings | None = None) -> dict:
    settings = settings or TrainSettings()

    def run(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return predict(model, tok, texts, device, emoji_words=settings.emoji_words)

    val = load_tweeteval_val(data)
    s, _ = run([e.text for e in val])
    res: dict = {"tweeteval_val_macro_recall": macro_recall([e.sentiment for e in val], s.argmax(1), 3)}
    dev = load_goemotions(data, "dev")
    _, i = run([e.text for e in dev])
    m = confusion([e.intent for e in dev], i.argmax(1), len(INTENTS))
    p, r, _ = per_class(m)
    res["goemotions_dev"] = {n: {"precision": float(p[k]), "recall": float(r[k])} for k, n in enumerate(INTENTS)}
    res["goemotions_dev_confusion"] = m.tolist()
    if xci_holdout:
        _, i = run([e.text for e in xci_holdout])
        gold = [int(e.intent == COMPLAINT) for e in xci_holdout]
        res["xci_holdout_macro_f1"] = macro_f1(gold, (i.argmax(1) == COMPLAINT).astype(int), 2)
        res["xci_holdout_macro_f1_p50"] = macro_f1(gold, (i[:, COMPLAINT] > 0.5).astype(int), 2)
    res.update(finetune.extra_scores(run, data, languages=bool(settings.languages),
                                     brand_eval=settings.brand_repeat > 0))
    return res


def train(data: Path, output: Path | None, settings: TrainSettings, *, base_dir: Path | None = None,
          corrections: list[tuple[str, str | None, str | None]] | None = None,
          device: str | None = None, soft_out: Path | None = None,
          on_step: Callable[[int, int], None] | None = None, checkpoint: Path | None = None,
          checkpoint_every: int = 50) -> dict:
    """Train; write the artefact to `output` (when given), the model's probabilities on its training and
    transfer texts to `soft_out` (when given: a teacher's soft labels), and return the evaluation numbers.
    `on_step(done, total)` reports progress every few optimiser steps (the CLI draws it with an ETA).
    With `checkpoint`, the run saves itself there every `checkpoint_every` steps and a rerun with the same
    settings carries on from it (classify/checkpoint.py); it is removed once the run has finished."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    teacher_arch = settings.arch == "mpnet"
    if settings.arch not in ("minilm", "mpnet"):
        raise ValueError(f"unknown arch {settings.arch!r}")
    if teacher_arch and output is not None:
        raise ValueError("a teacher is not an artefact: use --soft-out to keep its labels")
    if teacher_arch and base_dir is None:
        from classify.teacher import teacher_base_dir

        base_dir = teacher_base_dir()
    base_dir = base_dir or base_model_dir()
    base = None if teacher_arch else load_base(base_dir / "model.safetensors")
    tok = Tokenizer(base_dir / "tokenizer.json", settings.max_len)
    start = finetune.load_init(Path(settings.init))[1] if settings.init and not teacher_arch else base
    languages = multilingual.parse_languages(settings.languages) if settings.languages else []

    sent, intents = training_pool(data, topic=settings.topic)
    xci = load_xci(data)
    holdout: list[Example] = []
    if settings.fold >= 0:
        held = set(xci_folds(xci)[settings.fold])
        holdout = [e for k, e in enumerate(xci) if k in held]
        xci = [e for k, e in enumerate(xci) if k not in held]
    # X-CI's sentiment labels are counted once; its repeats only add complaint signal
    xci_rep = [Example(e.text, -1, e.intent, e.source, e.group) for e in xci]
    examples = sent + intents + xci + xci_rep * (settings.xci_repeat - 1)
    if settings.sentiment_only:
        examples = sent
    examples = finetune.replay_sample(examples, settings.replay, settings.seed)
    examples += finetune.extra_examples(data, languages, settings.multilingual_repeat, settings.brand_repeat)
    for text, s, i in corrections or []:
        ex = Example(text, SENT_IDX.get(s or "", -1), INTENT_IDX.get(i or "", -1), "correction")
        if ex.sentiment >= 0 or ex.intent >= 0:
            examples += [ex] * settings.corrections_repeat
    soft = _soft_targets(settings)
    transfer = _transfer(data, examples + holdout) if (soft and settings.transfer) or soft_out else []
    if soft:
        examples += transfer
    logger.info("training on %d examples (%d X-CI held out) on %s", len(examples), len(holdout), device)
    ids = tok.encode([preprocess(e.text, emoji_words=settings.emoji_words) for e in examples])
    s_target = torch.tensor([e.sentiment for e in examples])
    i_target = torch.tensor([e.intent for e in examples])
    i_weight = torch.tensor([settings.goemotions_weight if e.source.startswith("goemotions") else 1.0
                             for e in examples])
    s_soft, i_soft = _soft_tensors(examples, soft)
    counts = torch.bincount(s_target[s_target >= 0], minlength=len(SENTIMENTS)).float()
    s_weight = counts.clamp(min=1) ** -settings.sentiment_balance
    s_weight = (s_weight / (s_weight * counts).sum() * counts.sum()).to(device)

    if teacher_arch:
        from classify.teacher import TeacherModel

        model: torch.nn.Module = TeacherModel(base_dir).to(device)
        n_layers = model.backbone.config.num_hidden_layers
    else:
        model = build_model(base_dir, start).to(device)
        # frozen unless asked: keeps the shipped delta small
        model.embeddings.word_embeddings.weight.requires_grad_(settings.train_embeddings)
        n_layers = len(model.encoder.layer)
    model.fused = True
    # trained word embeddings get no weight decay: a row no training text uses stays as it was
    no_decay = ("bias", "LayerNorm") + (("word_embeddings",) if settings.train_embeddings else ())

    def depth(name: str) -> int:  # 0 = embeddings, k + 1 = encoder layer k (the teacher's sit under backbone.)
        name = name.removeprefix("backbone.")
        return int(name.split(".")[2]) + 1 if name.startswith("encoder.layer.") else 0

    groups: dict[tuple[int, bool], dict] = {}
    for n, p in model.named_parameters():
        if not p.requires_grad or n.startswith("heads."):
            continue
        decay = not any(k in n for k in no_decay)
        g = groups.setdefault((depth(n), decay), {
            "params": [], "weight_decay": settings.weight_decay if decay else 0.0,
            "lr": settings.lr * settings.layer_decay ** (n_layers - depth(n))})
        g["params"].append(p)
    param_groups = list(groups.values()) + [
        {"params": list(model.heads.parameters()), "lr": settings.head_lr, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(param_groups, betas=(0.9, 0.98), eps=1e-6, fused=device.startswith("cuda"))
    rng = random.Random(settings.seed)
    lengths = [len(x) for x in ids]
    steps_per_epoch = math.ceil(len(ids) / settings.batch_size)
    total = steps_per_epoch * settings.epochs
    warm = max(1, int(total * settings.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min((k + 1) / warm, max(0.0, (total - k) / max(1, total - warm))))
    use_amp = device.startswith("cuda")
    params = [p for p in model.parameters() if p.requires_grad]
    shadow = [p.detach().clone().float() for p in params] if settings.ema > 0 else []
    step, t0 = 0, time.time()
    history: list[dict] = []
    saver = Checkpointer(checkpoint, {"settings": asdict(settings), "examples": len(ids)},
                         checkpoint_every) if checkpoint else None
    pos = saver.restore(model, opt, sched, shadow) if saver else None
    if pos is not None:
        step, history = pos.step, pos.history
        rng.setstate(pos.epoch_rng)
    for epoch in range(pos.epoch if pos else 0, settings.epochs):
        model.train()
        epoch_rng = rng.getstate()
        skip, carried = (pos.batch, pos.running) if pos and epoch == pos.epoch else (0, 0.0)
        running = torch.tensor(carried, device=device)
        for nb, b in enumerate(_batches(lengths, settings.batch_size, rng)):
            if nb < skip:  # trained before the checkpoint this run resumed from
                continue
            x, m = Tokenizer.pad([ids[i] for i in b])
            x, m = torch.from_numpy(x).to(device), torch.from_numpy(m).to(device)
            st, it, iw = s_target[b].to(device), i_target[b].to(device), i_weight[b].to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                s_logits, i_logits = model(x, m)
            s_logits, i_logits = s_logits.float(), i_logits.float()
            loss = _intent_loss(i_logits, it, iw)
            if (st >= 0).any():
                loss = loss + F.cross_entropy(s_logits[st >= 0], st[st >= 0], weight=s_weight,
                                              label_smoothing=settings.label_smoothing)
            if soft:
                loss = loss + settings.distill * _soft_loss(s_logits, i_logits, s_soft[b].to(device), i_soft[b].to(device))
            if not loss.requires_grad:  # a batch with nothing to learn from
                continue
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if on_step is not None and (step % 20 == 0 or step == total):
                on_step(step, total)
            if shadow:  # EMA smooths the step-to-step noise that small data sets like X-CI show
                torch._foreach_lerp_(shadow, [p.detach().float() for p in params], 1.0 - settings.ema)
            running += loss.detach()
            if saver is not None and saver.due(step):
                saver.save(model, opt, sched, shadow, Position(step, epoch, nb + 1, epoch_rng, float(running), history))
        model.fused = False
        live = _swap(params, shadow)
        # the last epoch's weights are scored once, after the logit adjustment below (on a CPU an
        # evaluation pass costs minutes)
        last_adjusted = epoch + 1 == settings.epochs and settings.balance_logits and not teacher_arch
        ev = {} if last_adjusted else quick_eval(model, tok, data, device, holdout, settings)
        if epoch + 1 < settings.epochs:
            _swap(params, live)  # back to the live weights; after the last epoch the EMA stays
        model.fused = True
        ev.update(epoch=epoch + 1, loss=float(running) / steps_per_epoch, seconds=round(time.time() - t0, 1))
        history.append({k: v for k, v in ev.items() if not k.startswith("goemotions_dev_conf")})
        logger.info("epoch %d: %s", epoch + 1, json.dumps(history[-1]))
    model.fused = False
    if settings.balance_logits and not teacher_arch:  # a teacher's soft labels keep the training prior
        adjust_sentiment_bias(model.heads.sentiment.bias, counts, 1.0 - settings.sentiment_balance)
        ev = quick_eval(model, tok, data, device, holdout, settings)
        ev.update(epoch=settings.epochs, balanced_logits=True)
        history.append({k: v for k, v in ev.items() if not k.startswith("goemotions_dev_conf")})
        logger.info("with balanced sentiment logits: %s", json.dumps(history[-1]))
    result = {"settings": asdict(settings), "final": history[-1], "history": history,
              "goemotions_dev_confusion": ev["goemotions_dev_confusion"]}
    if soft_out is not None:
        from classify.teacher import save_soft_labels

        texts = list(dict.fromkeys(e.text for e in examples + transfer))
        s_p, i_p = predict(model, tok, texts, device, emoji_words=settings.emoji_words)
        save_soft_labels(soft_out, texts, s_p, i_p, {"settings": asdict(settings), "scores": history[-1]})
        logger.info("soft labels for %d texts written to %s", len(texts), soft_out)
    if output is not None:
        sha_file = base_dir / "base_sha256.txt"  # the device copy of the base carries the package's hash
        base_sha = sha_file.read_text().strip() if sha_file.is_file() else sha256(base_dir / "model.safetensors")
        langs = history[-1].get("multilingual_val_macro_f1")
        cfg = ArtifactConfig(base_sha256=base_sha, max_len=settings.max_len, revision=settings.revision,
                             emoji_words=settings.emoji_words,
                             validated_languages=finetune.validated_languages(langs) if langs else ["en"],
                             train={"settings": asdict(settings), "examples": len(examples),
                                    "sentiment_counts": counts.tolist(),
                                    "scores_at_training": history[-1]})
        save_artifact(output, state_numpy(model.cpu()), base, cfg)
        logger.info("artefact written to %s", output)
    if saver is not None:
        saver.remove()
    return result


@torch.no_grad()
def adjust_sentiment_bias(bias: torch.Tensor, counts: torch.Tensor, tau: float) -> None:
    """Logit adjustment (Menon et al., 2021): class weights freq**-b during training leave the model
    with a prior ~ freq**(1 - b); subtracting (1 - b) * log(freq) from the logits completes the
    balancing, which is the decision rule that maximises macro recall. Derived from the training
    counts, not tuned on validation."""
    prior = counts.clamp(min=1).double() / counts.sum()
    bias -= (tau * prior.log()).to(bias.device, bias.dtype)


def _soft_targets(settings: TrainSettings) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not settings.teacher:
        return {}
    from classify.teacher import load_soft_labels

    return load_soft_labels([Path(p) for p in settings.teacher.split(",") if p])


def _transfer(data: Path, labelled: list[Example]) -> list[Example]:
    """Unlabelled texts for distillation, minus every labelled and every evaluation text."""
    from classify.teacher import transfer_examples

    keys = {dedupe_key(e.text) for e in labelled + load_xci(data) + load_tweeteval_val(data)}
    keys |= {dedupe_key(t) for t in load_goemotions_texts(data, "dev")}
    return transfer_examples(data, keys)


def _soft_tensors(examples: list[Example], soft: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher probabilities per example; NaN rows where the teacher has no label for the text."""
    s = torch.full((len(examples), len(SENTIMENTS)), float("nan"))
    i = torch.full((len(examples), len(INTENTS)), float("nan"))
    if soft:
        from classify.teacher import soft_key

        missing = 0
        for k, e in enumerate(examples):
            hit = soft.get(soft_key(e.text))
            if hit is None:
                missing += 1
                continue
            s[k], i[k] = torch.from_numpy(hit[0]), torch.from_numpy(hit[1])
        logger.info("soft labels for %d of %d examples", len(examples) - missing, len(examples))
    return s, i


def _soft_loss(s_logits: torch.Tensor, i_logits: torch.Tensor, s_soft: torch.Tensor, i_soft: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the teacher's probabilities, over the examples it labelled."""
    has = ~torch.isnan(s_soft[:, 0])
    if not has.any():
        return s_logits.new_zeros(())
    s_ce = -(s_soft[has] * s_logits[has].log_softmax(-1)).sum(-1).mean()
    i_ce = -(i_soft[has] * i_logits[has].log_softmax(-1)).sum(-1).mean()
    return s_ce + i_ce


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--output", type=Path)
    ap.add_argument("--base-dir", type=Path)
    ap.add_argument("--metrics", type=Path)
    ap.add_argument("--soft-out", type=Path, help="write the trained model's probabilities (teacher soft labels)")
    ap.add_argument("--checkpoint", type=Path, help="save the run here every 50 steps; rerunning carries on from it")
    for f, v in asdict(TrainSettings()).items():
        ap.add_argument(f"--{f.replace('_', '-')}", type=type(v) if not isinstance(v, bool) else int, default=v)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = TrainSettings(**{f: (bool(getattr(a, f)) if isinstance(v, bool) else getattr(a, f))
                                for f, v in asdict(TrainSettings()).items()})
    t0 = time.time()

    def log_step(done: int, total: int) -> None:  # progress with an ETA in the log (the CLI draws a bar)
        if done % 100 == 0 or done == total:
            rate = done / max(1e-9, time.time() - t0)
            logger.info("step %d/%d, %.2f steps/s, ETA %.0f min", done, total, rate, (total - done) / rate / 60)

    res = train(a.data, a.output, settings, base_dir=a.base_dir, soft_out=a.soft_out, on_step=log_step,
                checkpoint=a.checkpoint)
    if a.metrics:
        a.metrics.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
