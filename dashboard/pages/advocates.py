"""Advocates: the people who praise us, ranked by praise, reach and recency; thank them; export the list."""
from __future__ import annotations

import streamlit as st

from careline.services import advocates, app_settings
from careline.settings import PLATFORMS
from dashboard.components import act, can, clean, db, end_page, one_line, require_user, safe_url, when
from dashboard.customer_panel import profile_link

user = require_user()
st.title("Advocates")
st.text("Customers who praise your brands, counted across every platform they use, ranked by how often they "
        "praise, how many people they reach and how recently. Competitors' fans are not listed. Thank them "
        "(once a day at most, whichever platform), or export the list for marketing.")

with db() as session:
    own = advocates.own_brands(session)
c0, c1, c2 = st.columns([2, 3, 1])
brand_pick = c0.selectbox("Brand", [None, *own], format_func=lambda b: "All our brands" if b is None else own[b],
                          key="adv_brand")
platforms = c1.multiselect("Platform", list(PLATFORMS), key="adv_platform")
min_praise = c2.number_input("At least this many praises", min_value=1, max_value=100, value=1, key="adv_min")
with db() as session:
    ranked = advocates.top_advocates(session, brand_id=brand_pick, platforms=platforms, min_praise=int(min_praise),
                                     limit=100)

if not ranked:
    st.info("No advocates yet: they appear once mentions of your brands are classified as praise.")
    end_page()

st.download_button("Export the list (CSV)", advocates.to_csv(ranked), file_name="careline-advocates.csv",
                   mime="text/csv", disabled=not can("export"), key="adv_export")
st.dataframe(
    [{"Rank": i + 1, "Name": one_line(a.display_name, 60), "Brand": a.brand,
      "Identities": one_line(", ".join(a.identities), 120), "Praise": a.praise_count,
      "Complaints": a.complaint_count, "Followers": a.followers, "Last seen": when(a.last_seen_at),
      "Thanked": (f"{when(a.last_thanked_at)} on {a.last_thanked_platform or '?'}" if a.last_thanked_at else ""),
      "Score": a.score} for i, a in enumerate(ranked)],
    hide_index=True, width="stretch", key="adv_table",
)

st.divider()
pick = st.selectbox("Look at an advocate", range(len(ranked)), key="adv_pick",
                    format_func=lambda i: f"{i + 1}. {one_line(ranked[i].display_name, 40)} · {ranked[i].brand} "
                                          f"({ranked[i].praise_count} praise)")
a = ranked[int(pick)]
with db() as session:
    praise = advocates.customer_praise(session, a.customer_id or 0, a.brand_id, limit=5)
brand = a.brand or "the team"
target = praise[0] if praise else None  # their latest praise for this brand, on whichever platform
left, right = st.columns([3, 2], gap="large")
with left:
    st.text(f"{one_line(a.display_name, 80)} · {', '.join(one_line(i, 60) for i in a.identities)} · "
            f"{a.followers:,} followers · {a.praise_count} praise, {a.complaint_count} complaint(s) for {brand}")
    if a.customer_id:
        profile_link(a.customer_id)
    for m in praise:
        with st.container(border=True):
            st.text(f"{when(m.created_at)} · {m.platform} · #{m.id}")
            st.text(clean(m.text, 1000))
            url = safe_url(m.url)
            if url:
                st.link_button("Open ↗", url)
with right:
    with st.container(border=True):
        st.markdown("**Thank them**")
        recent = advocates.thanked_recently(a.last_thanked_at)
        if a.last_thanked_at:
            st.text(f"Last thanked {when(a.last_thanked_at)} on {a.last_thanked_platform or 'a platform'}.")
        if recent:
            st.info("Already thanked in the last 24 hours; once a day is enough.")
        if not can("reply"):
            st.info("Your role cannot reply.")
        handle = target.author_handle if target else a.handle
        with db() as session:
            default = app_settings.thanks_text(session, target.platform if target else a.platform, handle,
                                               a.display_name, brand)
        text = st.text_area("Message", default, key=f"thanks_text_{a.customer_id}_{a.brand_id}", disabled=not can("reply"))
        dry = st.checkbox("Dry run (record it, don't post)", key="thanks_dry")
        if st.button(f"Thank (reply to their latest praise{' on ' + target.platform if target else ''})", type="primary",
                     key="thank_btn", disabled=not can("reply") or target is None or recent):
            reply = act("reply", advocates.thank, target.platform, target.author_handle, text,  # type: ignore[union-attr]
                        user["username"], user["role"], mention_id=target.id, dry_run=dry)  # type: ignore[union-attr]
            if reply is not None:
                st.success(f"Thank-you queued as reply #{reply.id}; it appears on the mention in the inbox.")
