"""Careline dashboard entry point (placeholder until the dashboard issue lands): a read-only inbox."""
from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from careline.db import get_engine
from careline.services import inbox
from careline.settings import get_settings

st.set_page_config(page_title="Careline", layout="wide")
settings = get_settings()
engine = get_engine(settings.url)
st.title("Careline inbox")
with Session(engine) as session:
    page = inbox.list_inbox(session, inbox.InboxFilter(), page=1, page_size=50)
    rows = [
        {"priority": m.priority, "platform": m.platform, "author": m.author_handle or "", "text": m.text,
         "sentiment": m.corrected_sentiment or m.sentiment, "intent": m.corrected_intent or m.intent,
         "status": m.status, "model": m.model_version}
        for m in page.items
    ]
if any((r["model"] or "").startswith("placeholder") for r in rows):
    st.warning("Labels come from the placeholder keyword classifier, not the trained model.")
st.dataframe(rows, use_container_width=True, hide_index=True)
