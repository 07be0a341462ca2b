"""The detail view of one mention: full text, author, labels, thread, history, and the triage actions."""
from __future__ import annotations

import streamlit as st

from careline.models import Mention
from careline.services import (
    advocates,
    app_settings,
    audit,
    classification,
    inbox,
    priority,
    replies,
    sla,
    triage,
    users,
)
from dashboard import care_detail, composer, customer_panel, live
from dashboard.components import act, can, clean, db, label_text, one_line, safe_url, settings, when

SENTIMENTS = ["negative", "neutral", "positive"]
INTENTS = ["complaint", "question", "praise", "other"]


def show(mention_id: int, user: dict[str, str]) -> None:
    with db() as session:
        m = inbox.get(session, mention_id)
        if m is None:
            st.error(f"Mention {mention_id} no longer exists.")
            return
        brand = next((b for b in inbox.brands(session) if b.id == m.brand_id), None)
        history = inbox.author_history(session, m, limit=20)
        thread = inbox.thread(session, m, limit=20)
        notes = triage.notes(session, mention_id)
        events = audit.history(session, mention_id, limit=100)
        people = users.assignable(session)
    brand_name = brand.name if brand else ""

    st.subheader(f"Mention #{m.id}")
    if m.deleted_at is not None:  # kept for the record, out of the inbox (services/inbox.py)
        st.warning(f"This post was {inbox.deleted_badge(m)} on {m.platform} ({when(m.deleted_at)}); "
                   "a reply would go to a post that no longer exists.")
    live.presence_bar(mention_id, user["username"])  # who else has it open; it only informs, never locks
    left, right = st.columns([3, 2], gap="large")
    with left:
        _body(m, brand_name)
        _author(m, history)
        customer_panel.show_for_mention(m)  # the same person on every platform, and their timeline
        if thread:
            with st.expander(f"Thread context ({len(thread)} other post(s) collected)", expanded=True):
                st.dataframe([{"When": when(t.created_at), "Author": one_line(t.author_handle, 40),
                               "Text": one_line(t.text, 300)} for t in thread],
                             hide_index=True, width="stretch")
        care_detail.conversation(m, user)
        with st.expander(f"History ({len(events)} event(s)) and notes ({len(notes)})", expanded=bool(notes)):
            for n in notes:
                st.text(f"Note by {n.author}, {when(n.created_at)}:")
                st.text(clean(n.text, 2000))
            st.dataframe([{"When": when(e.at), "Who": e.actor, "What": e.action,
                           "Detail": one_line(_detail_text(e.detail), 200)} for e in events],
                         hide_index=True, width="stretch")
    with right:
        _actions(m, user, people)
        composer.show(m, brand_name, user)
        care_detail.external_reply(m, user)


def _detail_text(detail: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in (detail or {}).items())


def _body(m: Mention, brand_name: str) -> None:
    st.text(f"{m.platform} · {brand_name or 'no brand'} · posted {when(m.created_at)} · status {m.status}"
            + (f" · assigned to {m.assignee}" if m.assignee else ""))
    body = clean(m.text)
    st.text_area("Full text (as posted, shown as plain text)", body, key=f"body_{m.id}", disabled=True,
                 height=min(400, 80 + 22 * (len(body) // 90 + body.count("\n"))))
    url = safe_url(m.url)
    if url:
        st.link_button("Open the original post ↗", url)
    elif m.url:
        st.text("Original link hidden: it is not an http(s) address.")
    ver = m.model_version or ""
    st.text(
        f"Sentiment: {label_text(m.sentiment, m.corrected_sentiment, m.sentiment_score)} · "
        f"Intent: {label_text(m.intent, m.corrected_intent, m.intent_score)} · "
        f"Language: {m.language or '?'} · Classifier: {ver or 'not yet classified'}"
        + (" (placeholder keyword rules, not the trained model)" if ver.startswith("placeholder") else "")
    )
    if classification.language_unsupported(m):
        st.warning(f"Language not supported by the model — needs a person ({m.review_reason}). "
                   "The labels above are guesses; priority ignores them until someone corrects them.")
    elif m.needs_review:
        st.warning("The classifier was unsure about this one; please check the labels.")
    if m.reply_needed is False:
        st.text(f"No reply needed, probably: {m.reply_reason} (docs/needs-reply.md). Answer anyway if it deserves one.")
    due = sla.due_text(m)
    if due:
        by = m.respond_by.astimezone(settings().zone).strftime("%Y-%m-%d %H:%M %Z") if m.respond_by else ""
        st.text(f"Response target: {due} (by {by})")
    st.text(f"Priority {m.priority:g}: {priority.explain(m)}")
    if m.tags:
        st.text("Tags: " + ", ".join(clean(t) for t in m.tags))


def _author(m: Mention, history: list[Mention]) -> None:
    with st.container(border=True):
        followers = f"{m.author_followers:,} followers" if m.author_followers is not None else "followers unknown"
        st.text(f"Author: {one_line(m.author_name or '', 80)} @{one_line(m.author_handle or '?', 80)} · {followers}")
        if history:
            intents = [h.corrected_intent or h.intent or "?" for h in history]
            summary = ", ".join(f"{intents.count(k)} {k}" for k in sorted(set(intents)))
            st.text(f"{len(history)} earlier mention(s) on {m.platform}: {summary}")
            st.dataframe([{"When": when(h.created_at), "Intent": h.corrected_intent or h.intent or "",
                           "Status": h.status, "Text": one_line(h.text, 200)} for h in history],
                         hide_index=True, width="stretch", height=min(250, 40 + 35 * len(history)))
        else:
            st.text("First time we've heard from this author.")


def _thank(m: Mention, user: dict[str, str]) -> None:
    """One click for praise: queue the 'Thanks' template as a reply and remember the author was thanked."""
    with db() as session:
        own = next((b for b in inbox.brands(session) if b.id == m.brand_id), None)
        if own is not None and own.competitor:
            return  # praise for a competitor is not ours to thank (nor to sign with their name)
        text = app_settings.thanks_text(session, m.platform, m.author_handle, m.author_name,
                                        own.name if own else "the team")
    with st.container(border=True):
        st.markdown("**An advocate**: this is praise.")
        st.text(f"Thank-you to send: {text}")
        if st.button("Thank this advocate", key=f"thank_{m.id}", disabled=not can("reply"),
                     help="Queues the 'Thanks' template (Settings → Reply templates) as a reply."):
            if act("reply", advocates.thank, m.platform, m.author_handle, text, user["username"], user["role"],
                   mention_id=m.id, success="Thank-you queued"):
                st.rerun()


def _actions(m: Mention, user: dict[str, str], people: list[str]) -> None:
    me = user["username"]
    allowed = can("triage")
    with st.container(border=True):
        st.markdown("**Triage**")
        if not allowed:
            st.info("Your role is read-only.")
        a1, a2, a3 = st.columns(3)
        if a1.button("Assign to me", key=f"me_{m.id}", disabled=not allowed or m.assignee == me):
            if act("triage", triage.assign, m.id, me, me, success="Assigned to you"):
                st.rerun()
        if a2.button("Resolve", key=f"resolve_{m.id}", disabled=not allowed or m.status == "resolved"):
            if act("triage", triage.set_status, m.id, "resolved", me, success="Resolved"):
                st.rerun()
        if a3.button("Ignore", key=f"ignore_{m.id}", disabled=not allowed or m.status == "ignored",
                     help="Not something to answer (spam, off-topic)."):
            if act("triage", triage.set_status, m.id, "ignored", me, success="Ignored"):
                st.rerun()
        t1, t2 = st.columns([3, 1])
        mate = t1.selectbox("Assign to a teammate", ["(nobody)", *people], key=f"mate_{m.id}",
                            index=(people.index(m.assignee) + 1) if m.assignee in people else 0)
        if t2.button("Assign", key=f"assign_{m.id}", disabled=not allowed):
            if act("triage", triage.assign, m.id, None if mate == "(nobody)" else mate, me, success="Assignment saved"):
                st.rerun()
        s1, s2 = st.columns([3, 1])
        status = s1.selectbox("Status", list(triage.STATUSES), index=list(triage.STATUSES).index(m.status),
                              key=f"status_{m.id}")
        if s2.button("Set", key=f"set_status_{m.id}", disabled=not allowed or status == m.status):
            if act("triage", triage.set_status, m.id, status, me, success=f"Status: {status}"):
                st.rerun()
        g1, g2 = st.columns([3, 1])
        tags = g1.text_input("Tags (comma separated)", ", ".join(m.tags or []), key=f"tags_{m.id}")
        if g2.button("Save", key=f"save_tags_{m.id}", disabled=not allowed):
            if act("triage", triage.set_tags, m.id, tags.split(","), me, success="Tags saved"):
                st.rerun()
        note = st.text_area("Add a note for the team", key=f"note_{m.id}", height=80)
        if st.button("Add note", key=f"add_note_{m.id}", disabled=not allowed):
            if act("triage", triage.add_note, m.id, note, me, success="Note added"):
                st.rerun()
    if (m.corrected_intent or m.intent) == "praise" and m.author_handle and replies.cannot_reply(m.platform) is None:
        _thank(m, user)
    with st.container(border=True):
        st.markdown("**Correct the labels** (saved for retraining the classifier)")
        c1, c2, c3 = st.columns([2, 2, 1])
        cur_s = m.corrected_sentiment or m.sentiment
        cur_i = m.corrected_intent or m.intent
        sent = c1.selectbox("Sentiment", SENTIMENTS, index=SENTIMENTS.index(cur_s) if cur_s in SENTIMENTS else 1,
                            key=f"fix_sent_{m.id}")
        intent = c2.selectbox("Intent", INTENTS, index=INTENTS.index(cur_i) if cur_i in INTENTS else 3,
                              key=f"fix_intent_{m.id}")
        if c3.button("Save", key=f"fix_{m.id}", disabled=not allowed or (sent == cur_s and intent == cur_i)):
            if act("triage", classification.correct, m.id, me, sentiment=sent, intent=intent,
                   success="Labels corrected"):
                st.rerun()
