"""Advocates: the people who praise us, ranked by praise, reach and recency; thank them; export the list."""
from __future__ import annotations

import streamlit as st

from careline.services import advocates, app_settings, inbox
from dashboard.components import act, can, clean, db, one_line, require_user, safe_url, when

user = require_user()
st.title("Advocates")
st.text("Authors who praise your brands, ranked by how often they praise, how many people they reach and how "
        "recently. Thank them, or export the list for marketing.")

c1, c2 = st.columns([3, 1])
platforms = c1.multiselect("Platform", ["x", "reddit", "bluesky", "mastodon", "hackernews", "demo"], key="adv_platform")
min_praise = c2.number_input("At least this many praises", min_value=1, max_value=100, value=1, key="adv_min")
with db() as session:
    ranked = advocates.top_advocates(session, platforms=platforms, min_praise=int(min_praise), limit=100)
    templates = app_settings.templates(session)

if not ranked:
    st.info("No advocates yet: they appear once mentions are classified as praise.")
    st.stop()

st.download_button("Export the list (CSV)", advocates.to_csv(ranked), file_name="careline-advocates.csv",
                   mime="text/csv", disabled=not can("export"), key="adv_export")
st.dataframe(
    [{"Rank": i + 1, "Platform": a.platform, "Handle": one_line(a.handle, 60), "Name": one_line(a.display_name, 60),
      "Praise": a.praise_count, "Complaints": a.complaint_count, "Followers": a.followers,
      "Last seen": when(a.last_seen_at), "Thanked": when(a.last_thanked_at) if a.last_thanked_at else "",
      "Score": a.score} for i, a in enumerate(ranked)],
    hide_index=True, width="stretch", key="adv_table",
)

st.divider()
pick = st.selectbox("Look at an advocate", range(len(ranked)), key="adv_pick",
                    format_func=lambda i: f"{i + 1}. {ranked[i].platform} @{one_line(ranked[i].handle, 50)} "
                                          f"({ranked[i].praise_count} praise)")
a = ranked[int(pick)]
with db() as session:
    praise = advocates.recent_praise(session, a.platform, a.handle, limit=5)
    brand_names = {b.id: b.name for b in inbox.brands(session)}
brand = brand_names.get(praise[0].brand_id or -1, "the team") if praise else "the team"
left, right = st.columns([3, 2], gap="large")
with left:
    st.text(f"@{one_line(a.handle, 80)} on {a.platform} · {a.followers:,} followers · {a.praise_count} praise, "
            f"{a.complaint_count} complaint(s)")
    for m in praise:
        with st.container(border=True):
            st.text(f"{when(m.created_at)} · #{m.id}")
            st.text(clean(m.text, 1000))
            url = safe_url(m.url)
            if url:
                st.link_button("Open ↗", url)
with right:
    with st.container(border=True):
        st.markdown("**Thank them**")
        if a.last_thanked_at:
            st.text(f"Last thanked {when(a.last_thanked_at)}.")
        if not can("reply"):
            st.info("Your role cannot reply.")
        default = app_settings.render_template(templates.get("Thanks", "Thank you, {author}! – {brand}"),
                                               author="@" + one_line(a.handle, 60), name=one_line(a.display_name or a.handle, 60),
                                               brand=brand, platform=a.platform)
        text = st.text_area("Message", default, key=f"thanks_text_{a.platform}_{a.handle}", disabled=not can("reply"))
        dry = st.checkbox("Dry run (record it, don't post)", key="thanks_dry")
        if st.button("Thank (queue a reply to their latest praise)", type="primary", key="thank_btn",
                     disabled=not can("reply") or not praise):
            reply = act("reply", advocates.thank, a.platform, a.handle, text, user["username"], user["role"],
                        dry_run=dry)
            if reply is not None:
                st.success(f"Thank-you queued as reply #{reply.id}; it appears on the mention in the inbox.")
