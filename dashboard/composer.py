"""The reply composer: templates with variables, a per-platform character counter, a preview, and the
state of every reply to this mention (queued, sent with a link, failed with the reason and a retry)."""
from __future__ import annotations

import streamlit as st

from careline.errors import CarelineError
from careline.models import Mention, Reply
from careline.services import app_settings, outbox, replies, users
from dashboard import live, suggestions_panel
from dashboard.components import act, can, clean, db, md_escape, one_line, safe_url, settings, when


def _fill(key: str, template_key: str, values: dict[str, str]) -> None:
    name = st.session_state.get(template_key)
    with db() as session:
        templates = app_settings.templates(session)
    if name in templates:
        st.session_state[key] = app_settings.render_template(templates[name], **values)


def show(m: Mention, brand_name: str, user: dict[str, str]) -> None:
    assert m.id is not None  # a stored mention: the detail view opens nothing else
    with db() as session:
        existing = replies.replies_for(session, m.id)
        templates = app_settings.templates(session)
    with st.container(border=True):
        st.markdown("**Reply**")
        _states(existing, m.id)
        allowed = can("reply")
        if not allowed:
            st.info("Your role cannot reply.")
        blocked = replies.cannot_reply(m.platform)
        if blocked:
            st.info(blocked)
            return
        values = app_settings.template_values(m.platform, m.author_handle, m.author_name, brand_name)
        key, tkey = f"reply_text_{m.id}", f"reply_tpl_{m.id}"
        suggestions_panel.show(m, values, key, allowed)
        st.selectbox("Start from a template", ["(blank)", *templates], key=tkey,
                     on_change=_fill, args=(key, tkey, values),
                     help=app_settings.TEMPLATE_HELP)
        live.writers_warning(m.id, user["username"])  # a colleague typing an answer to the same mention
        text = st.text_area("Your reply", key=key, height=120, disabled=not allowed)
        with db() as session:
            size = replies.measure(session, m, text)  # the queue's own rule: learnt limit, @handle prefix
        over = size.problem is not None and bool(text.strip())
        st.progress(min(1.0, size.length / size.limit) if size.limit else 1.0,
                    text=f"{size.length} / {size.limit} characters as {m.platform} counts them"
                    + (" — too long" if over else ""))
        if text.strip():
            st.text("Preview:")
            with st.container(border=True):
                st.text(clean(text))
        active = replies.ACTIVE_STATES
        others = [r for r in existing if r.state in active]
        confirm = False
        if others:
            who = ", ".join(sorted({md_escape(r.created_by, 60) for r in others}))
            st.warning(f"This mention already has a reply ({others[-1].state}, by {who}). "
                       "Sending again would post a second answer.")
            st.text(f"What {others[-1].created_by} sent:")  # plain text, so a colleague's answer is read as is
            with st.container(border=True):
                st.text(clean(others[-1].text, 1000))
            confirm = st.checkbox("Yes, send another reply anyway", key=f"dup_{m.id}")
        forced = settings().dry_run
        st.checkbox("Dry run (record it, don't post)", value=forced,
                          key=f"dry_{m.id}", disabled=forced,
                          help="Forced on by CARELINE_DRY_RUN." if forced else "Nothing reaches the platform.")
        c1, c2 = st.columns(2)
        c1.button("Queue reply", type="primary", key=f"send_{m.id}", on_click=_queue,
                  args=(m.id, key, user["username"], user["role"]),
                  disabled=not allowed or over or not text.strip() or (bool(others) and not confirm))
        outcome = st.session_state.pop(f"reply_outcome_{m.id}", None)
        if outcome:
            (st.success if outcome[0] == "ok" else st.error)(md_escape(outcome[1], 500))
        if c2.button("Send now", key=f"send_now_{m.id}", disabled=not allowed,
                     help="Run the sender once instead of waiting for the scheduler."):
            _send_now()


def _queue(mention_id: int, key: str, actor: str, role: str) -> None:
    """Button callback: queue the reply and empty the box before the page is drawn again."""
    # read at click time (not bound when the button was drawn) so the boxes' latest state counts
    dry = settings().dry_run or bool(st.session_state.get(f"dry_{mention_id}"))
    confirm = bool(st.session_state.get(f"dup_{mention_id}"))
    try:
        users.require(role, "reply")
        with db() as session:
            reply = replies.queue_reply(session, mention_id, st.session_state.get(key, ""), actor, dry_run=dry,
                                        confirm_duplicate=confirm)
    except CarelineError as exc:
        st.session_state[f"reply_outcome_{mention_id}"] = ("error", str(exc))
        return
    st.session_state[key] = ""
    st.session_state[f"reply_outcome_{mention_id}"] = ("ok", f"Reply #{reply.id} queued" +
                                                       (" (dry run)." if dry else "."))


def _send_now() -> None:
    from careline import jobs

    if not can("reply"):
        st.error("Your role cannot send replies.")
        return
    with st.spinner("Sending queued replies…"):
        sent = jobs.send_queued()
    st.toast(f"Sender ran: {sent} repl{'y' if sent == 1 else 'ies'} processed")
    st.rerun()


def _state_line(r: Reply) -> str:
    return f"{r.state} — {one_line(outbox.status_line(r), 300)}"  # the sender's own wording


def _states(existing: list[Reply], mention_id: int) -> None:
    for r in existing:
        with st.container(border=True):
            st.text(f"Reply #{r.id} by {r.created_by}, {when(r.created_at)} · {'DRY RUN · ' if r.dry_run else ''}"
                    f"{r.kind} · state: {_state_line(r)}")
            st.text(clean(r.text, 600))
            url = safe_url(r.url)
            if r.state == "sent" and url:
                st.link_button("View the posted reply ↗", url)
            if r.error:
                st.error("Reason: " + md_escape(r.error))
            if r.state == "failed" and st.button("Retry", key=f"retry_{r.id}", disabled=not can("reply")):
                # the same retry as `careline outbox --retry`: this row and its idempotency key, never a new reply
                retried = act("reply", replies.retry, r.id, st.session_state["user"]["username"])
                if retried is not None:
                    st.rerun()
            if r.state == "queued" and st.button("Cancel", key=f"cancel_{r.id}", disabled=not can("reply")):
                if act("reply", replies.cancel, r.id, st.session_state["user"]["username"]):
                    st.rerun()
