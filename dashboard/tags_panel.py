"""Settings → Tags: every tag in use with its count, and renaming (or merging) one everywhere (audited)."""
from __future__ import annotations

import streamlit as st

from careline.services import tags
from dashboard.components import act, can, db, md_escape


def show() -> None:
    with db() as session:
        counts = tags.tag_counts(session)
    st.text("Tags people and routing rules put on mentions. Filter by them in the Inbox (Tags, or tag:name in "
            "the search box), on Trends and in exports.")
    if not counts:
        st.info("No mention has a tag yet. Add tags in a mention's detail view.")
        return
    st.dataframe([{"Tag": t, "Mentions": n} for t, n in counts], hide_index=True, width="content")
    c1, c2, c3 = st.columns([2, 2, 1])
    old = c1.selectbox("Rename the tag", [t for t, _ in counts], key="tag_old")
    new = c2.text_input("to (an existing tag merges them)", key="tag_new", max_chars=tags.MAX_TAG_CHARS)
    if c3.button("Rename", key="tag_rename", disabled=not can("settings")):
        changed = act("settings", tags.rename, old, new, st.session_state["user"]["username"],
                      success=f"Renamed {md_escape(old, 50)} to {md_escape(new, 50)}")
        if changed is not None:
            st.cache_data.clear()  # the inbox and Trends tag lists
            st.rerun()
