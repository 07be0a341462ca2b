"""The inbox's export (services/search_export.py) writes what the list shows: the same rows in the same
order, a person's correction over the model's labels, and the list's deleted-post badge."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session

from careline.models import Mention
from careline.services import inbox, search_export
from careline.services.inbox import InboxFilter
from careline.services.ingest import ingest
from tests.factories import make_brand, make_raw

T0 = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def test_search_export_rows_labels_and_badge_match_the_list(any_engine: Engine) -> None:
    with Session(any_engine) as s:
        make_brand(s, "Acme Air", keywords=["acme"])
        make_brand(s, "Skyhop", keywords=["skyhop"], competitor=True)
        ids = ingest(s, [make_raw(text=text, created_at=T0 + timedelta(minutes=i)) for i, text in enumerate(
            ["Acme Air lost my bag", "Acme Air and Skyhop lost my bag", "Acme Air lost my bag again"])]).new_ids
        labelled, gone = s.get(Mention, ids[0]), s.get(Mention, ids[2])
        assert labelled is not None and gone is not None
        labelled.sentiment, labelled.intent = "neutral", "other"
        labelled.corrected_sentiment, labelled.corrected_intent = "negative", "complaint"
        gone.deleted_at = T0 + timedelta(hours=1)
        s.add_all([labelled, gone])
        s.commit()
        f = InboxFilter(text="bag", statuses=[])  # a search finds deleted posts too
        shown = [(str(m.id), inbox.deleted_badge(m), m.corrected_sentiment or m.sentiment or "",
                  m.corrected_intent or m.intent or "")
                 for m in inbox.list_inbox(s, f, page_size=500, order="oldest").items]
        data, n = search_export.to_csv(s, f, "dana", order="oldest")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert n == len(shown) == 3
    assert [(r["id"], r["deleted"], r["sentiment"], r["intent"]) for r in rows] == shown
    assert rows[0]["intent"] == "complaint" and rows[2]["deleted"] == inbox.DELETED_BADGE
