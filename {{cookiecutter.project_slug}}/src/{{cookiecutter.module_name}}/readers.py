"""Readers for raw formats of your own: `invoke etl` calls them, then types and loads the rows.

A reader is a function that takes the file as an opened text stream (already
decompressed and decoded) and yields one dict per record (or one tuple, with
``columns = [...]`` in the table's settings). Values may be strings, numbers,
booleans, None, or lists and dicts (stored as JSON text). Map a file pattern to it in
``pyproject.toml``::

    [tool.<package>.etl]
    readers = {"memetracker/*" = "<package>.readers:memetracker"}

An exception raised by a reader fails its file with the record and line number it
reached; nothing of that file is committed.

The example below reads MemeTracker's phrase files (snap.stanford.edu/data/memetracker9):
one blank-line-separated block per document, each line a type letter, a tab and a value::

    P	http://blogs.abcnews.com/politicalpunch/2008/09/obama-says-mc-1.html
    T	2008-09-09 22:35:24
    Q	that's not change
    Q	you know you can put lipstick on a pig
    L	http://reuters.com/article/politicsnews/idusn2944356420080901
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

FIELDS = {"P": "url", "T": "time", "Q": "quotes", "L": "links"}


def memetracker(lines: TextIO) -> Iterator[dict]:
    """One record per document: url, time, and its quotes and links as JSON arrays."""
    document: dict = {}
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not line.strip():
            if document:
                yield document
            document = {}
            continue
        kind, tab, value = line.partition("\t")
        if not tab or kind not in FIELDS:
            raise ValueError(f"line {number} is not '<P|T|Q|L><tab><value>': {line[:40]!r}")
        if kind in "PT":
            document[FIELDS[kind]] = value
        else:
            document.setdefault("quotes", [])
            document.setdefault("links", [])
            document[FIELDS[kind]].append(value)
    if document:
        yield document
