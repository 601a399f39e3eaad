"""The crawl feeds: parsers for Naver's formats (SOURCES.md), pure functions from response bytes to rows.
(Feeds, not sources: a text source is a kind of text, ``finsent.data.sources``.)

Parsers never write anything. A body that does not match the contract raises
:class:`finsent.errors.PageParseError`; the caller quarantines it and writes nothing from it.
"""
