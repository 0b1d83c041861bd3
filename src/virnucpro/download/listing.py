"""The links of an HTML folder listing (NCBI's FTP site over HTTPS), in page order.

The original download_data.py took every ``<a href>`` of a release folder's page,
joined relative links to the folder's URL, and kept those ending in
``genomic.gbff.gz``; the seeded choice draws from that list, so its order and
content must be the page's, duplicates included.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

#: What the original kept of a folder's links: the GenBank flat files of the genomes
GENOMIC_GBFF = "genomic.gbff.gz"
#: The RefSeq release folder whose category subfolders are listed
RELEASE_URL = "https://ftp.ncbi.nlm.nih.gov/refseq/release/"
# A size column as Apache and NCBI print it: bytes, or 1024-based K, M, G, T
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGT]?)")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class Link:
    """One ``<a href>`` of a listing: its absolute URL, the file name it ends in, and
    the size the page gives beside it (``None`` where none; rounded where the page
    prints 44M or 1.2G, so an estimate, never a check)."""

    url: str
    name: str
    size: int | None = None


class _ListingParser(HTMLParser):
    """Collects the links of a page and the text that follows each, up to the next tag
    that opens a link (where the size column is)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.after: list[list[str]] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href")
        if href is None:
            return
        self.hrefs.append(href)
        self.after.append([])
        self._in_link = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False

    def handle_data(self, data: str) -> None:
        if self.after and not self._in_link:
            self.after[-1].append(data)


def _size(text: str) -> int | None:
    """The last size-like word of ``text`` (after the date and time), in bytes."""
    words = text.split()
    match = _SIZE.fullmatch(words[-1]) if words else None
    if match is None or len(words) < 2:  # a size stands after a date
        return None
    return round(float(match[1]) * _UNITS[match[2]])


def parse_listing(page: str, folder_url: str) -> list[Link]:
    """Every link of ``page``, in page order, joined to ``folder_url``."""
    parser = _ListingParser()
    parser.feed(page)
    parser.close()
    links = []
    for href, after in zip(parser.hrefs, parser.after, strict=True):
        url = urljoin(folder_url, href)
        name = unquote(posixpath.basename(urlsplit(url).path))
        links.append(Link(url, name, _size("".join(after))))
    return links


def genomic_gbff(links: list[Link]) -> list[Link]:
    """The links the original kept: URL ending in ``genomic.gbff.gz``, in page order."""
    return [link for link in links if link.url.endswith(GENOMIC_GBFF)]
