"""Hostile mention text, author names and URLs render inert: no Markdown, HTML, links or layout tricks."""
from __future__ import annotations

from sqlmodel import Session

from careline.services.ingest import ingest
from dashboard.components import clean, md_escape, one_line, safe_url
from tests.conftest import make_raw
from tests.dashboard.conftest import open_mention

HOSTILE = (
    "![pwned](https://evil.example/x.png) <img src=x onerror=alert(1)> <script>alert(2)</script> "
    "[click me](javascript:alert(3)) <b>bold</b> **loud** # Heading \u202eevil\u202c zero\u200bwidth "
    ":red[colour] $x^2$ "
)
LONG = HOSTILE + ("A" * 100 + " ") * 100  # over 10 kB


def _all_markdown(at) -> str:  # type: ignore[no-untyped-def]
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in (*at.error, *at.warning, *at.info, *at.success)]
    parts += [t.value for t in at.title] + [h.value for h in at.subheader]
    return "\n".join(parts)


def test_hostile_mention_renders_inert(page, dash_db):
    with Session(dash_db) as s:
        raw = make_raw(platform="x", external_id="hostile", text=LONG, url="javascript:alert(4)",
                       author_handle="<img src=x>\u202eadmin", author_name="**[Support](https://evil.example)**",
                       author_followers=10_000_000)
        res = ingest(s, [raw], brand_id=1)
        mid = res.new_ids[0]
    at = page("inbox", role="agent")
    df = at.dataframe[0].value
    row = df[df["#"] == mid].iloc[0]
    assert "\u202e" not in row["Text"] and "\u200b" not in row["Text"] and len(row["Text"]) <= 161
    open_mention(at, mid)
    assert not at.exception
    body = at.text_area(key=f"body_{mid}")
    assert body.disabled and len(body.value) > 10_000
    assert "\u202e" not in body.value and "zerowidth" in body.value
    assert body.value.startswith("![pwned](https://evil.example/x.png) <img")  # shown as typed, not rendered
    markdown = _all_markdown(at)
    for bad in ("evil.example", "<img", "<script", "javascript:", "**loud**", "Support"):
        assert bad not in markdown, bad
    assert not at.get("link_button") or all("javascript" not in str(b.proto) for b in at.get("link_button"))
    assert any("not an http(s) address" in t.value for t in at.text)
    # the page is still usable: actions render and work
    at.button(key=f"me_{mid}").click().run()
    assert not at.exception


def test_clean_removes_bidi_and_invisible_but_keeps_emoji_joiners():
    assert clean("a\u202eb\u2066c\u200bd\ufeffe") == "abcde"
    family = "👩\u200d👩\u200d👧"
    assert clean(family) == family
    assert clean("x\u200dy") == "xy"
    assert clean("bell\x07\x1b[31m") == "bell  [31m"
    assert one_line("a\n\nb   c", 10) == "a b c"
    assert one_line("x" * 300, 20).endswith("…")


def test_md_escape_neutralises_markdown():
    escaped = md_escape("![i](http://e.x) [l](javascript:x) **b** <i> :red[c] $m$")
    for ch in "![]()*<>:$":
        assert f"\\{ch}" in escaped


def test_safe_url_only_http():
    assert safe_url("https://x.com/a/status/1") == "https://x.com/a/status/1"
    assert safe_url("http://example.com") == "http://example.com"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example",
                "https://evil.example/\u202e", "https://a b", "ftp://x", "", None, "https:///nohost"):
        assert safe_url(bad) is None, bad
