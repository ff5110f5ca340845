"""HTML as authored in Qualtrics -> the plain text stored in the `*_text` columns."""

from __future__ import annotations

from html.parser import HTMLParser

# Tags that separate words when rendered; every other tag (em, span, a, …) is inline.
_BREAKING_TAGS = frozenset(
    "address article aside blockquote br caption dd details div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody td "
    "tfoot th thead tr ul".split()
)


class _TextCollector(HTMLParser):
    """Keeps character data (entities already unescaped) and turns breaking tags into spaces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)


def html_to_text(html: str | None) -> str | None:
    """Tags removed, entities unescaped, `<br>`/block tags read as a space, whitespace collapsed.

    None stays None so "no text" and "empty text" remain distinguishable.
    """
    if html is None:
        return None
    if "<" not in html and "&" not in html:
        return " ".join(html.split())
    parser = _TextCollector()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())
