"""Plain text from the HTML some platforms send (Mastodon statuses, Hacker News comments).

Mention text is untrusted: we keep the words and line breaks and drop every tag, so nothing downstream
ever renders platform markup.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCK = {"p", "div", "li", "blockquote", "pre", "tr"}
_SKIP = {"script", "style", "template"}  # their content is code, not words
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANKS = re.compile(r"\n{3,}")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCK and self.out:
            self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)


def html_to_text(value: str | None) -> str:
    if not value:
        return ""
    if "<" not in value:
        return html.unescape(value).strip()
    parser = _Text()
    parser.feed(value)
    parser.close()
    text = "".join(parser.out)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
