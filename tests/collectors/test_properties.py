"""Property tests: every platform parser and the file reader, fed arbitrary JSON/CSV/text shapes.

Invariants: no exception escapes a page; every good item comes back (and is stored exactly once, however
often it is read); every bad one is reported with a reason. Modest example counts by default; more with
`-m slow` (CARELINE_HYPOTHESIS_EXAMPLES).
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel, func, select

from careline.db import create_all, make_engine
from careline.models import Mention
from careline.services.ingest import ingest
from classify.files import read_records
from collectors.bluesky import parse_page as bsky_page
from collectors.hackernews import parse_hits
from collectors.mastodon import parse_statuses
from collectors.reddit_parse import parse_listing
from collectors.x import parse_page as x_page

EXAMPLES = int(os.environ.get("CARELINE_HYPOTHESIS_EXAMPLES", "25"))
PROPS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILE_PROPS = settings(max_examples=EXAMPLES, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # lone surrogates and NUL included
# No subnormal floats: after a classify test ran in this process, ONNX Runtime's denormals-as-zero mode is
# on in this thread and Hypothesis refuses to make them (to a parser they are ordinary floats anyway).
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_subnormal=False) | any_text
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(any_text, kids, max_size=4),
                           max_leaves=12)
# an item that is almost right: the real keys, with any value at all
def shaped(keys: list[str]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional={k: json_values for k in keys})


X_KEYS = ["id", "text", "author_id", "created_at", "lang", "public_metrics", "note_tweet", "referenced_tweets",
          "conversation_id"]
good_x = st.builds(lambda n, t: {"id": str(1862000000000000000 + n), "text": t, "created_at": "2026-11-20T11:00:00Z"},
                   st.integers(0, 10**6), any_text)


_ENGINE: list = []


def _store_twice(mentions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Ingest the page twice into an emptied database (one per run: building the schema per example would
    dominate the run); returns rows per external id."""
    if not _ENGINE:
        _ENGINE.append(make_engine("sqlite://"))
        create_all(_ENGINE[0])
    with Session(_ENGINE[0]) as s:
        for _ in range(2):
            ingest(s, mentions)
        counts = dict(s.exec(select(Mention.external_id, func.count()).group_by(Mention.external_id)).all())
        for table in reversed(SQLModel.metadata.sorted_tables):
            s.execute(table.delete())
        s.commit()
    return counts


@PROPS
@given(good=st.lists(good_x, max_size=5), bad=st.lists(json_values | shaped(X_KEYS), max_size=5),
       includes=json_values, meta=json_values, order=st.randoms())
def test_x_page_keeps_every_good_tweet_and_reports_every_bad_one(good, bad, includes, meta, order) -> None:  # type: ignore[no-untyped-def]
    data = good + bad
    order.shuffle(data)
    mentions, skipped = x_page({"data": data, "includes": includes, "meta": meta})
    assert len(mentions) + len(skipped) == len(data)  # each item: stored or reported
    assert {g["id"] for g in good} <= {m.external_id for m in mentions}
    stored = _store_twice(mentions)
    assert set(stored) == {m.external_id for m in mentions} and set(stored.values()) <= {1}


@PROPS
@given(page=json_values)
def test_every_parser_survives_any_page_shape(page) -> None:  # type: ignore[no-untyped-def]
    """No exception escapes a page, whatever its shape."""
    for parse in (x_page, bsky_page):
        parse(page)  # type: ignore[arg-type]
    items = page if isinstance(page, list) else [page]
    for mentions, skipped in (parse_statuses(items), parse_hits(items)):
        assert len(mentions) + len(skipped) == len(items)
    mentions, skipped, _newest, _reached = parse_listing(items, None)
    assert len(mentions) + len(skipped) <= len(items)


reddit_child = st.builds(lambda n, t: {"kind": "t3", "data": {"name": f"t3_g{n}", "title": t or "acme",
                                                              "created_utc": 1764000000 + n}},
                         st.integers(0, 10**6), any_text)
bad_child = json_values | st.fixed_dictionaries({"kind": json_values, "data": json_values}) | st.builds(
    lambda d: {"kind": "t1", "data": d}, shaped(["name", "body", "created_utc", "author", "subreddit", "permalink"]))


@PROPS
@given(good=st.lists(reddit_child, max_size=5), bad=st.lists(bad_child, max_size=5), order=st.randoms())
def test_reddit_listing_keeps_good_children(good, bad, order) -> None:  # type: ignore[no-untyped-def]
    children = good + bad
    order.shuffle(children)
    mentions, skipped, _newest, _reached = parse_listing(children, None)
    assert {g["data"]["name"] for g in good} <= {m.external_id for m in mentions}
    assert len(mentions) + len(skipped) == len(children)
    assert set(_store_twice(mentions).values()) <= {1}


@PROPS
@given(posts=st.lists(json_values | shaped(["uri", "record", "author", "indexedAt"]), max_size=6),
       statuses=st.lists(json_values | shaped(["id", "uri", "content", "created_at", "account", "language"]), max_size=6),
       hits=st.lists(json_values | shaped(["objectID", "created_at_i", "title", "comment_text", "_tags"]), max_size=6))
def test_bluesky_mastodon_hn_account_for_every_item(posts, statuses, hits) -> None:  # type: ignore[no-untyped-def]
    for (mentions, skipped), n in ((bsky_page({"posts": posts}), len(posts)), (parse_statuses(statuses), len(statuses)),
                                   (parse_hits(hits), len(hits))):
        assert len(mentions) + len(skipped) == n
        assert set(_store_twice(mentions).values()) <= {1}


csv_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"), min_size=1,
                   max_size=60).filter(lambda t: t.strip() != "")
garbage = st.text(st.characters(exclude_categories=("Cs",), exclude_characters='\x00\r\n"'), max_size=20).map(
    lambda t: '"' + t)


@FILE_PROPS
# One stray quote per file: two of them can enclose good rows in what is, by the CSV rules, one legal quoted
# field with line breaks (posts have those too), and no reader can tell that from a real multi-line post.
@given(texts=st.lists(csv_text, min_size=1, max_size=8), junk=st.lists(st.tuples(st.integers(0, 8), garbage), max_size=1))
def test_csv_reader_reads_every_good_row_whatever_the_bad_ones(tmp_path_factory, texts, junk) -> None:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "text"])
    lines = [buf.getvalue()]
    for i, text in enumerate(texts):
        row = io.StringIO()
        csv.writer(row, lineterminator="\n").writerow([f"id{i}", text])
        lines.append(row.getvalue())
    for at, bad in junk:
        lines.insert(1 + min(at, len(lines) - 1), bad + "\n")
    path = tmp_path_factory.mktemp("csv") / "posts.csv"
    path.write_text("".join(lines), encoding="utf-8")
    problems: list[tuple[int, str]] = []
    got = {(r.id, r.text) for r in read_records(path, problems)}
    assert {(f"id{i}", t) for i, t in enumerate(texts)} <= got
    assert len(problems) >= 1 if junk else problems == []  # a stray quote is reported


@FILE_PROPS
@given(lines=st.lists(json_values.map(lambda v: json.dumps(v)) | any_text.map(lambda t: t.replace("\n", " ")), max_size=8))
def test_jsonl_reader_accounts_for_every_line(tmp_path_factory, lines) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("jsonl") / "posts.jsonl"
    body = "".join(line.replace("\r", " ").replace("\x85", " ").replace("\u2028", " ").replace("\u2029", " ")
                   .replace("\x0b", " ").replace("\x0c", " ").replace("\x1c", " ").replace("\x1d", " ")
                   .replace("\x1e", " ") + "\n" for line in lines)
    path.write_bytes(body.encode("utf-8", "surrogatepass"))
    problems: list[tuple[int, str]] = []
    records = list(read_records(path, problems))
    assert sorted([r.line for r in records] + [n for n, _ in problems]) == list(range(1, len(lines) + 1))
    for r in records:
        r.text.encode("utf-8")  # what is written is valid Unicode


@pytest.mark.slow
def test_properties_with_many_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under -m slow: the same properties with 1,000 examples each (a separate pytest run)."""
    import subprocess
    import sys

    env = {**os.environ, "CARELINE_HYPOTHESIS_EXAMPLES": "1000"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "not slow", __file__], env=env,
                            capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stdout[-3000:]
