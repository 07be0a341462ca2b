"""The customer box in a mention's detail view: who this is across platforms, and their whole timeline."""
from __future__ import annotations

import streamlit as st

from careline.models import Mention
from careline.services import customer_timeline, customers
from dashboard.components import db, one_line, when

KIND_NAMES = {"post": "Post", "reply": "Our reply", "thanks": "Our thank-you", "note": "Note", "customer_note": "Customer note",
              "status": "Status", "assign": "Assignment", "correct": "Correction", "tags": "Tags", "merge": "Linked",
              "split": "Split", "case_join": "Case", "case_reopen": "Case reopened"}


def timeline_rows(entries: list[customer_timeline.Entry]) -> list[dict[str, object]]:
    """Timeline entries as table rows (a dataframe shows every cell as plain text)."""
    return [{"When": when(e.at), "What": KIND_NAMES.get(e.kind, e.kind), "Platform": e.platform or "",
             "Who": one_line(e.actor or "", 40), "Text": one_line(e.summary, 300), "Status": e.status or "",
             "Case": e.case_id, "#": e.mention_id}
            for e in entries]


def profile_link(customer_id: int) -> None:
    """A link to the Customers page opened on this customer (a plain URL: only the number goes in it)."""
    st.markdown(f"[Open the customer profile and timeline](./customers?customer={int(customer_id)})")


def show_for_mention(m: Mention) -> None:
    with db() as session:
        c = customers.for_mention(session, m)
        if c is None:
            return
        idents = customers.identities(session, c.id or 0)
        entries = customer_timeline.timeline(session, c.id or 0, limit=50)
    others = [e for e in entries if e.mention_id != m.id]
    with st.container(border=True):
        st.text(f"Customer: {one_line(c.display_name, 80)}{' · VIP' if c.vip else ''} · "
                + ", ".join(f"{i.platform} @{one_line(i.handle, 40)}" for i in idents))
        st.text(f"{c.mention_count} mention(s), {c.complaint_count} complaint(s), {c.praise_count} praise, "
                f"{c.open_count} open case(s) · last thanked {when(c.last_thanked_at) if c.last_thanked_at else 'never'}")
        if c.notes:
            st.text(f"Note: {one_line(c.notes, 300)}")
        profile_link(c.id or 0)
        if others:
            with st.expander(f"Timeline across platforms ({len(others)} other entr{'y' if len(others) == 1 else 'ies'})",
                             expanded=len(idents) > 1):
                st.dataframe(timeline_rows(others), hide_index=True, width="stretch",
                             height=min(320, 40 + 35 * len(others)), key=f"cust_tl_{m.id}")
        else:
            st.text("First time we've heard from this customer.")
