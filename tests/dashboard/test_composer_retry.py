"""The composer's Retry is `careline outbox --retry`: the same row and idempotency key, never a new reply."""
from __future__ import annotations

from sqlmodel import Session, select

from careline.models import AuditEvent, Mention, Reply
from careline.services import replies
from tests.dashboard.conftest import mention_id, open_mention


def test_retry_reuses_the_row_and_its_key(page, dash_db):  # type: ignore[no-untyped-def]
    mid = mention_id(dash_db, "Acme Air lost my bag")
    with Session(dash_db, expire_on_commit=False) as s:
        reply = replies.queue_reply(s, mid, "Sorry, we are on it.", "agent")
        row = s.get(Reply, reply.id)
        row.state, row.error = "failed", "X refused the reply."  # type: ignore[union-attr]
        m = s.get(Mention, mid)
        m.status = "new"  # type: ignore[union-attr]  # as the sender leaves a mention whose only reply failed
        s.add(row)
        s.add(m)
        s.commit()
        key = reply.idempotency_key
    at = page("inbox", role="agent")
    open_mention(at, mid)
    at.button(key=f"retry_{reply.id}").click().run()
    assert not at.exception, [e.message for e in at.exception]
    with Session(dash_db) as s:
        rows = list(s.exec(select(Reply).where(Reply.mention_id == mid)))
        assert [(r.id, r.idempotency_key, r.state) for r in rows] == [(reply.id, key, "queued")]
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "retry_reply",
                                               AuditEvent.reply_id == reply.id)).one().actor == "agent"
