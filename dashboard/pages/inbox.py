"""Inbox: open mentions, most urgent first; filters, pagination, bulk actions and the detail view."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone

import streamlit as st

from careline.errors import InvalidInput
from careline.services import (
    cases,
    customer_timeline,
    escalation,
    inbox,
    inbox_search,
    search,
    search_query,
    sla,
    stats,
    tags,
    trends,
    triage,
    users,
)
from careline.services import live as live_changes
from careline.services.inbox import InboxFilter
from careline.settings import PLATFORMS as ALL_PLATFORMS
from dashboard import detail, export_panel, lagging, live, themes_panel, views_nav
from dashboard.components import act, can, clean, db, one_line, placeholder_notice, require_user, settings

PAGE_SIZE = 50
PLATFORMS = list(ALL_PLATFORMS)
SENTIMENTS = ["negative", "neutral", "positive"]
INTENTS = ["complaint", "question", "praise", "other"]
STATUSES = list(triage.STATUSES)
WHEN = {"Any time": None, "Last 24 hours": 1, "Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90,
        "Custom dates": -1}

user = require_user()
st.title("Inbox")
st.text("Mentions of your brands that may need an answer, most urgent first. "
        "Pick one (click a row, or use 'Open a mention') to read it in full, reply, assign or correct it.")


def _header() -> dict[str, int]:
    with db() as session:
        return stats.workload(session)


def _choices() -> tuple[dict[int, str], list[str], list[str]]:
    with db() as session:
        names = {b.id: b.name + (" (competitor)" if b.competitor else "") for b in inbox.brands(session)}
        langs = trends.recent_languages(session)
        people = users.assignable(session)
    return names, langs, people  # type: ignore[return-value]


@st.cache_data(ttl=60, show_spinner=False)
def _tag_names() -> list[str]:
    with db() as session:
        return tags.list_tags(session)


SORTS = {"Inbox order (most urgent first)": "inbox", "Best match": "relevance", "Newest": "newest",
         "Oldest": "oldest"}
SEARCH_HELP = ('Words: all must appear (text, author handle or name). "lost bag" a phrase · refund* a prefix · '
               "-spam leave out · from:handle · platform:x · tag:vip · brand:\"Acme Air\" · status:resolved "
               "(open, all) · intent:complaint · sentiment:negative · lang:en · assignee:me (none)")


counts = lagging.value(_header, ttl=30)  # counted behind the page, never waited for (dashboard/lagging.py)
with db() as session:
    escalated = escalation.notices_for(session, user["username"], limit=3)
for notice_row in escalated:  # the dashboard side of escalation notices (apprise carries the same text)
    st.warning(clean(notice_row.message, 400), icon=":material/alarm:")
notice = st.container()  # filled once the page's rows are known (which classifier labelled them)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Open", f"{counts['open']:,}", help="Status new or assigned, our brands; posts their author deleted leave the inbox and this count.")
m2.metric("All mentions", f"{counts['mentions']:,}")
m3.metric("Waiting for the classifier", f"{counts['unclassified']:,}")
m4.metric("Replies queued", f"{counts['queued']:,}")

brand_names, languages, people = lagging.value(_choices, ttl=60)
views_nav.apply_pending(user, {"f_brand": list(brand_names), "f_platform": PLATFORMS, "f_sentiment": SENTIMENTS,
                               "f_intent": INTENTS, "f_status": STATUSES, "f_lang": languages,
                               "f_tags": _tag_names(), "f_assignee": people}, SORTS)
with st.container(border=True):
    c1, c2, c3, c4, c5 = st.columns([3, 2, 2, 2, 2])
    text = c1.text_input("Search mentions", key="f_text", placeholder='e.g. "lost bag", refund*, from:handle, tag:vip',
                         help=SEARCH_HELP)
    brand_ids = c2.multiselect("Brand", list(brand_names), format_func=lambda i: clean(brand_names[i]), key="f_brand")
    platforms = c3.multiselect("Platform", PLATFORMS, key="f_platform")
    sentiments = c4.multiselect("Sentiment", SENTIMENTS, key="f_sentiment")
    intents = c5.multiselect("Intent", INTENTS, key="f_intent")
    d1, d2, d3, d4, d5 = st.columns([3, 2, 2, 2, 2])
    st.session_state.setdefault("f_status", ["new", "assigned"])  # a default beside Session State would warn
    statuses = d1.multiselect("Status", STATUSES, key="f_status",
                              help="Empty shows every status.")
    who = d2.selectbox("Assignee", ["Anyone", "Me", "Unassigned", *people], key="f_assignee")
    langs = d3.multiselect("Language", languages, key="f_lang")
    period = d4.selectbox("Posted", list(WHEN), key="f_when")
    review = d5.selectbox("Labels", ["All", "Need review (unsure or other language)"], key="f_review")
    e1, e2, e3, e4 = st.columns([3, 2, 2, 2])
    tag_pick = e1.multiselect("Tags (any of)", _tag_names(), key="f_tags")
    sort = e2.selectbox("Sort", list(SORTS), key="f_sort")
    everywhere = e3.checkbox("Search every status and date", key="f_everywhere",
                             help="Ignore Status and Posted: find old and resolved mentions too.")
    overdue = e4.checkbox("Overdue only", key="f_overdue", help="Open, unanswered and past the response deadline.")
    since = until = None
    if WHEN[period] == -1:
        today = datetime.now(settings().zone).date()
        picked = st.date_input("From – to (inclusive)", value=(today - timedelta(days=7), today), key="f_dates")
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            zone = settings().zone
            since = datetime.combine(picked[0], time.min, tzinfo=zone).astimezone(timezone.utc)
            until = datetime.combine(picked[1] + timedelta(days=1), time.min, tzinfo=zone).astimezone(timezone.utc)
    elif (days := WHEN[period]) is not None:
        since = datetime.now(timezone.utc) - timedelta(days=days)

    replying = st.selectbox("Needs a reply", ["Any", "Yes", "No (jokes, news, spam, links, thanks)"],
                            key="f_reply_needed", help="The triage rule's verdict (docs/needs-reply.md).")
    # themes are grouped on demand (a second or two on a big database), so only when asked for
    theme_options = themes_panel.filter_options(brand_ids) if st.toggle("Filter by theme", key="f_by_theme") else {}
    theme = st.selectbox(f"Theme (last {themes_panel.FILTER_DAYS} days)", ["Any", *theme_options], key="f_theme",
                         help="Mentions grouped by meaning, as on the Trends page.") if theme_options else "Any"

assignee = {"Anyone": None, "Me": user["username"], "Unassigned": ""}.get(who, who)
query = None
try:
    query = search_query.parse(text)
except InvalidInput as exc:
    st.error(str(exc))
    text = ""
if query is not None and query.note:
    st.text(f"Search note: {query.note}")  # plain text: the note quotes what was typed
if everywhere:
    statuses, since, until = [], None, None
flt = InboxFilter(brand_ids=brand_ids, platforms=platforms, sentiments=sentiments, intents=intents,
                  statuses=statuses, assignee=assignee, languages=langs, since=since, until=until,
                  text=text.strip() or None, needs_review=True if review != "All" else None,
                  tags=tag_pick, me=user["username"], mention_ids=theme_options.get(theme),
                  overdue=overdue, reply_needed={"Any": None, "Yes": True}.get(replying, False))
searching = bool(query and query.positive)
# what the person chose (not the computed times, which move with the clock): a new choice goes to page 1
signature = repr((text, brand_ids, platforms, sentiments, intents, statuses, who, langs, period, review,
                  st.session_state.get("f_dates"), tag_pick, sort, everywhere, theme, overdue, replying))
views_nav.save_panel(user, text.strip(), views_nav.current_filters({
    "who": who, "period": period, "brand_ids": brand_ids, "platforms": platforms, "sentiments": sentiments,
    "intents": intents, "statuses": statuses, "langs": langs, "tags": tag_pick, "overdue": overdue,
    "review": review}), SORTS[sort])
if st.session_state.get("_inbox_sig") != signature:
    st.session_state["_inbox_sig"] = signature
    st.session_state["inbox_page"] = 1
page_no = st.session_state.get("inbox_page", 1)

with db() as session:
    # the page with its total: exact up to 1,000, then "1,000+"
    page, total, capped = inbox_search.listing(session, flt, page=page_no, page_size=PAGE_SIZE, order=SORTS[sort])
    case_sizes = cases.sizes(session, [m.case_id for m in page.items if m.case_id])
    customer_flags = customer_timeline.row_flags(session, page.items)  # other open / complained before / VIP
ids = [m.id for m in page.items]
with notice:
    placeholder_notice([m.model_version or "" for m in page.items] + [settings().model])

live.new_banner(flt)  # "N new since you last looked"
shown = f"{total:,}+" if capped else f"{total:,}"
first = (page_no - 1) * PAGE_SIZE + 1 if ids else 0
st.text(f"{shown} matching · showing {first}–{first + len(ids) - 1 if ids else 0}")
export_panel.show(flt, SORTS[sort], total, signature, capped)
if not ids:
    st.info("Nothing matches these filters. Clear some filters, or widen 'Status' to include resolved ones.")


def _row(m: inbox.Mention) -> dict[str, object]:
    age_h = (datetime.now(timezone.utc) - m.created_at).total_seconds() / 3600
    return {
        "New": "●" if (m.id or 0) > st.session_state.get("inbox_seen_id", 0) else "",
        "Priority": round(m.priority),
        "Due": sla.due_text(m) or ("answered" if m.first_response_at else ""),
        "Age": f"{age_h:.0f} h" if age_h < 48 else f"{age_h / 24:.0f} d",
        "Platform": m.platform,
        "Brand": clean(brand_names.get(m.brand_id or -1, "")),
        "Author": one_line(m.author_handle or "(handle unknown)", 40),
        "Customer": customer_flags[m.id].text() if m.id in customer_flags else "",
        "Followers": m.author_followers or 0,
        "Text": search.snippet(clean(m.text), query, 160) if searching and query else one_line(m.text, 160),
        "Sentiment": (m.corrected_sentiment or m.sentiment or "—") + (" ✎" if m.corrected_sentiment else ""),
        "Intent": (m.corrected_intent or m.intent or "—") + (" ✎" if m.corrected_intent else ""),
        "Status": m.status + (f" · {inbox.deleted_badge(m)}" if m.deleted_at else ""),
        "Assignee": m.assignee or "",
        "Case": f"#{m.case_id} ({case_sizes.get(m.case_id, 1)} posts)" if m.case_id else "",
        "Answered": "yes" if m.first_response_at else "",
        "#": m.id,
    }


def _label(m: inbox.Mention) -> str:
    return f"#{m.id} · {m.platform} · {one_line(m.author_handle or '?', 30)} · {one_line(m.text, 80)}"


# A new table key whenever the rows change meaning (other filters, another page, after a bulk action):
# a selection is row positions, and positions must never carry over to different mentions.
# (and when a live refresh brought different rows onto this page)
table_key = (f"inbox_table_{abs(hash(signature)) % 10**8}_{page_no}_{st.session_state.get('_bulk_gen', 0)}"
             f"_{abs(hash(tuple(ids))) % 10**6}")
st.session_state["_inbox_table_key"] = table_key


def _on_table_select() -> None:
    rows = st.session_state[table_key]["selection"]["rows"]
    page_labels = st.session_state.get("_inbox_labels", [])
    if len(rows) == 1 and rows[0] < len(page_labels):
        st.session_state["open_pick"] = page_labels[rows[0]]


st.session_state["_inbox_labels"] = [_label(m) for m in page.items]
table = st.dataframe(
    [_row(m) for m in page.items],
    key=table_key,
    on_select=_on_table_select,
    selection_mode="multi-row",
    hide_index=True,
    width="stretch",
    column_config={
        "Priority": st.column_config.ProgressColumn("Priority", min_value=0, max_value=100, format="%d",
                                                    help="Higher = answer sooner. The detail view explains it."),
        "Text": st.column_config.TextColumn("Text", width="large"),
        "Followers": st.column_config.NumberColumn("Followers", format="%d"),
        "#": st.column_config.NumberColumn("#", help="Mention id"),
    },
)


def _go(to: int) -> None:  # a callback runs before the rerun, so paging costs one script run, not two
    st.session_state["inbox_page"] = to


nav1, nav2, _ = st.columns([1, 1, 6])
nav1.button("← Previous", disabled=page_no <= 1, key="prev_page", on_click=_go, args=(page_no - 1,))
nav2.button("Next →", disabled=not page.has_next, key="next_page", on_click=_go, args=(page_no + 1,))



def _bulk(mention_ids: list[int], action: str, value: str | None, done: str) -> None:
    if act("triage", triage.bulk, mention_ids, action, user["username"], value, success=done) is not None:
        st.session_state["_bulk_gen"] = st.session_state.get("_bulk_gen", 0) + 1  # drop the selection
        st.rerun()


selected_rows = list(getattr(getattr(table, "selection", None), "rows", []) or [])
selected = [ids[r] for r in selected_rows if r < len(ids)]
if len(selected) > 1:
    with st.container(border=True):
        st.text(f"{len(selected)} mentions selected")
        if not can("triage"):
            st.info("Your role is read-only: bulk actions are for agents and admins.")
        b1, b2, b3, b4 = st.columns([2, 1, 1, 1])
        target = b1.selectbox("Assign to", people, key="bulk_assignee",
                              index=people.index(user["username"]) if user["username"] in people else 0)
        if b2.button("Assign", key="bulk_assign", disabled=not can("triage")):
            _bulk(selected, "assign", target, f"Assigned {len(selected)} to {target}")
        if b3.button("Resolve", key="bulk_resolve", disabled=not can("triage")):
            _bulk(selected, "resolve", None, f"Resolved {len(selected)}")
        if b4.button("Ignore", key="bulk_ignore", disabled=not can("triage")):
            _bulk(selected, "ignore", None, f"Ignored {len(selected)}")

live.watch("inbox", live_changes.stamp, hold=len(selected) > 1)  # redraws when anything changed
st.divider()
# The options are plain strings that start with the mention id: a value the browser sends back is parsed,
# never looked up by object identity.
NONE_PICKED = "— choose one —"
options = [NONE_PICKED, *st.session_state["_inbox_labels"]]
kept = st.session_state.get("open_pick")
if kept and kept not in options:
    options.append(kept)  # keep a mention open after it leaves the filtered list (e.g. resolved)
choice = st.selectbox("Open a mention", options, key="open_pick")
match = re.match(r"#(\d+) ", choice or "")
if match:
    detail.show(int(match.group(1)), user)
