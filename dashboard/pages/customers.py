"""Customers: find a person by handle or name, see everything across platforms, link and unlink identities,
export or erase their data. Every action goes through careline.services.customers / customer_privacy."""
from __future__ import annotations

import streamlit as st

from careline.services import customer_links, customer_privacy, customer_timeline, customers
from dashboard.components import act, can, clean, db, end_page, one_line, require_user, when
from dashboard.customer_panel import timeline_rows

user = require_user()
me, role = user["username"], user["role"]
st.title("Customers")
st.text("One profile per person, across platforms. Search by handle (any platform) or name; link identities "
        "the system suggests, or merge two customers yourself. Merges and splits can be undone.")

find_tab, links_tab = st.tabs(["Find a customer", "Link suggestions"])

with links_tab:
    with db() as session:
        views = customers.view_suggestions(session, customer_links.open_suggestions(session, limit=50))
        rules_now = customer_links.auto_rules(session)
    with st.expander(f"Auto-merge rules: {', '.join(rules_now) or 'none (a person confirms every link)'}"):
        st.text("Admins may let a signal merge without a person confirming; each merge is audited and can be undone.")
        chosen = st.multiselect("Merge automatically when", list(customer_links.SCORES), rules_now, key="auto_rules",
                                format_func=lambda r: customer_links.REASON_TEXT.get(r, r), disabled=not can("settings"))
        if st.button("Save rules", key="auto_rules_save", disabled=not can("settings") or chosen == rules_now):
            if act("settings", customer_links.set_auto_rules, chosen, me, role, success="Auto-merge rules saved"):
                st.rerun()
    if not views:
        st.info("No open suggestions. The link job runs every hour (or `careline customer suggest`).")
    for v in views:
        sid = v.suggestion.id
        with st.container(border=True):
            st.text(f"{v.a.platform} @{one_line(v.a.handle, 60)} ({one_line(v.customer_a.display_name, 40)})  ⇄  "
                    f"{v.b.platform} @{one_line(v.b.handle, 60)} ({one_line(v.customer_b.display_name, 40)})")
            st.text(f"Why: {customer_links.describe(v.suggestion.reasons)} · score {v.suggestion.score:.2f}")
            b1, b2 = st.columns(2)
            if b1.button("Same person: link", key=f"sug_accept_{sid}", disabled=not can("triage")):
                if act("triage", customers.accept_suggestion, sid, me, role, success="Linked"):
                    st.rerun()
            if b2.button("Different people", key=f"sug_dismiss_{sid}", disabled=not can("triage")):
                if act("triage", customers.dismiss_suggestion, sid, me, role, success="Dismissed"):
                    st.rerun()

with find_tab:
    c1, c2, c3 = st.columns([3, 1, 1])
    query = c1.text_input("Handle or name", key="cust_q", placeholder="@handle on any platform, or part of a name")
    sort = c2.selectbox("Order", ["recent", "complaints", "mentions"], key="cust_sort")
    vip_only = c3.checkbox("VIPs only", key="cust_vip")
    with db() as session:
        found = customers.find(session, query, vip_only=vip_only, sort=sort, limit=50)
        idents = {c.id: customers.identities(session, c.id or 0) for c in found}
    st.dataframe([{"#": c.id, "Name": one_line(c.display_name, 60),
                   "Identities": one_line(", ".join(f"{i.platform}:@{i.handle}" for i in idents[c.id]), 120),
                   "Mentions": c.mention_count, "Complaints": c.complaint_count, "Praise": c.praise_count,
                   "Open cases": c.open_count, "Last contact": when(c.last_contact_at), "VIP": "yes" if c.vip else ""}
                  for c in found], hide_index=True, width="stretch", key="cust_table")
    wanted = st.query_params.get("customer")
    options = [c.id for c in found if c.id is not None]
    if wanted and wanted.isdigit() and int(wanted) not in options:
        options.insert(0, int(wanted))
    if not options:
        st.info("No customer matches.")
        end_page()
    pick = st.selectbox("Open a customer", options, key="cust_pick",
                        index=options.index(int(wanted)) if wanted and wanted.isdigit() else 0,
                        format_func=lambda i: f"#{i} " + next((one_line(c.display_name, 60) for c in found if c.id == i), ""))

with db() as session:
    c = customers.get(session, int(pick))
    ids = customers.identities(session, c.id or 0)
    entries = customer_timeline.timeline(session, c.id or 0, limit=200)
    history = customers.changes(session, c.id or 0)
    mine = customers.view_suggestions(session, customer_links.open_suggestions(session, customer_id=c.id))

st.divider()
st.subheader(one_line(c.display_name, 80) + (" · VIP" if c.vip else "") + (" · erased" if c.erased_at else ""))
st.text(f"{c.mention_count} mention(s), {c.complaint_count} complaint(s), {c.praise_count} praise, {c.open_count} open case(s) · "
        f"last contact {when(c.last_contact_at)} · last thanked "
        f"{when(c.last_thanked_at) + ' on ' + (c.last_thanked_platform or '?') if c.last_thanked_at else 'never'}")
left, right = st.columns([3, 2], gap="large")
with left:
    st.markdown("**Timeline** (every platform, newest first)")
    st.dataframe(timeline_rows(entries), hide_index=True, width="stretch", key="cust_timeline",
                 height=min(600, 40 + 35 * max(1, len(entries))))
    st.markdown("**Identities**")
    for i in ids:
        r1, r2 = st.columns([4, 1])
        r1.text(f"{i.platform} @{one_line(i.handle, 80)}" + (f" · {one_line(i.profile_url, 80)}" if i.profile_url else ""))
        if len(ids) > 1 and r2.button("Split off", key=f"split_{i.id}", disabled=not can("triage") or bool(c.erased_at)):
            if act("triage", customers.split, i.id, me, role, success="Split into its own customer"):
                st.rerun()
    for v in mine:
        other = v.b if v.a.customer_id == c.id else v.a
        s1, s2 = st.columns([4, 1])
        s1.text(f"Suggested: {other.platform} @{one_line(other.handle, 60)} — {customer_links.describe(v.suggestion.reasons)}")
        if s2.button("Link", key=f"mine_accept_{v.suggestion.id}", disabled=not can("triage")):
            if act("triage", customers.accept_suggestion, v.suggestion.id, me, role, success="Linked"):
                st.rerun()
    if history:
        st.markdown("**Links and splits**")
        for ch in history:
            h1, h2 = st.columns([4, 1])
            h1.text(f"{when(ch.at)} · {ch.kind} by {ch.actor}" + (f" · undone by {ch.undone_by}" if ch.undone_at else ""))
            if not ch.undone_at and h2.button("Undo", key=f"undo_{ch.id}", disabled=not can("triage")):
                if act("triage", customers.undo, ch.id, me, role, success="Undone"):
                    st.rerun()
with right:
    allowed = can("triage") and not c.erased_at
    with st.container(border=True):
        st.markdown("**Profile**")
        name = st.text_input("Name", c.display_name or "", key=f"cust_name_{c.id}", disabled=not allowed)
        vip = st.checkbox("VIP (routing and the inbox show it)", c.vip, key=f"cust_vip_{c.id}", disabled=not allowed)
        tags = st.text_input("Tags (comma separated)", ", ".join(c.tags or []), key=f"cust_tags_{c.id}", disabled=not allowed)
        standing = st.text_area("Standing note", c.notes or "", key=f"cust_notes_{c.id}", height=80, disabled=not allowed)
        if st.button("Save profile", key=f"cust_save_{c.id}", disabled=not allowed):
            if act("triage", customers.update_profile, c.id, me, role, display_name=name, vip=vip,
                   tags=tags.split(","), notes=standing, success="Profile saved"):
                st.rerun()
        note = st.text_area("Add a dated note", key=f"cust_note_{c.id}", height=70, disabled=not allowed)
        if st.button("Add note", key=f"cust_add_note_{c.id}", disabled=not allowed):
            if act("triage", customers.add_note, c.id, note, me, role, success="Note added"):
                st.rerun()
    with st.container(border=True):
        st.markdown("**Merge another customer into this one**")
        # empty until a person types a number: a default of 1 offered to merge an arbitrary customer
        other_id = st.number_input("Customer # to merge in", min_value=1, step=1, value=None,
                                   placeholder="the # from the list above", key=f"merge_other_{c.id}")
        if st.button("Merge", key=f"merge_btn_{c.id}", disabled=not allowed or other_id is None) \
                and other_id is not None:
            if act("triage", customers.merge, c.id, int(other_id), me, role, reason="dashboard", success="Merged"):
                st.rerun()
    with st.container(border=True):
        st.markdown("**Their data** (right of access and erasure)")
        e1, e2 = st.columns([1, 2])
        fmt = e1.radio("Format", ["json", "csv"], key=f"cust_fmt_{c.id}", horizontal=True)
        if e2.button("Prepare export", key=f"cust_export_{c.id}", disabled=not can("export")):
            data = act("export", customer_privacy.export, c.id, me, role, fmt=fmt)  # audited once, here
            if data is not None:
                st.session_state["cust_export"] = (c.id, fmt, data)
        ready = st.session_state.get("cust_export")
        if ready and ready[0] == c.id:
            st.download_button(f"Download ({ready[1].upper()}, {len(ready[2]):,} bytes)", ready[2],
                               file_name=f"careline-customer-{c.id}.{ready[1]}", key="cust_download",
                               mime="application/json" if ready[1] == "json" else "text/csv")
        sure = st.checkbox("I understand: erasing cannot be undone", key=f"erase_sure_{c.id}",
                           disabled=not can("settings") or bool(c.erased_at))
        if st.button("Erase this customer", key=f"erase_{c.id}", type="primary",
                     disabled=not can("settings") or not sure or bool(c.erased_at),
                     help="Posts are anonymised (counts kept), identities and notes removed, later posts skipped."):
            summary = act("settings", customer_privacy.erase, c.id, me, role)
            if summary:
                st.success(f"Erased: {summary['mentions']} post(s) anonymised, {summary['identities']} identit(ies) removed.")
                st.rerun()
    if c.erased_at:
        st.info(clean(f"Erased {when(c.erased_at)}. Only counts remain."))
