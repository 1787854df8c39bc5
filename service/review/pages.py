"""Page images of a reviewed document, proxied through the app and cached in S3.

The browser never gets a bucket URL: it asks `/review/documents/<id>/pages/<n>` and the app finds the source
in the ledger record (bucket, key, ETag), never in the request, so no request can name another object. A
rendered page is kept under `review/pages/<id>/<n>` with its size in the object's metadata, so the next view
(any worker, any instance) costs one GET.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.adapters.s3.bucket import StateBucket
from service.models.ledger import LedgerRecord
from service.ports import ObjectStore, StoredObject
from service.review.render import PageImage, RenderError, render_page


@dataclass(frozen=True)
class PageInfo:
    width: float
    height: float
    page_count: int
    content_type: str


class PageImages:
    def __init__(self, state: StateBucket, sources: ObjectStore, max_document_bytes: int) -> None:
        self.state = state
        self._sources = sources
        self._max_bytes = max_document_bytes

    def info(self, record: LedgerRecord, page: int) -> PageInfo:
        """Size and page count, from the cache or by rendering the page once."""
        return self.image(record, page)[1]

    def image(self, record: LedgerRecord, page: int) -> tuple[bytes, PageInfo]:
        cached = self.state.get(self._key(record, page))
        if cached is not None and (info := _info(cached)) is not None:
            return cached.body, info
        return self._render(record, page)

    def _render(self, record: LedgerRecord, page: int) -> tuple[bytes, PageInfo]:
        rendered = render_page(self._source_bytes(record), page)
        info = PageInfo(rendered.width, rendered.height, rendered.page_count, rendered.content_type)
        self.state.put(
            self._key(record, page),
            rendered.body,
            content_type=rendered.content_type,
            metadata=_metadata(rendered),
        )
        return rendered.body, info

    def _source_bytes(self, record: LedgerRecord) -> bytes:
        """The exact content Nanonets read (the ETag in the record); refused when it is gone, too big, or
        replaced by other content since."""
        source = record.source
        head = self._sources.head(source.bucket, source.key, source.version_id)
        if head is None:
            raise RenderError("the source document is no longer in its bucket")
        if head.size > self._max_bytes:
            raise RenderError("the source document is larger than MAX_DOCUMENT_BYTES")
        found = self._sources.get(source.bucket, source.key)
        read = source.etag or head.ref.etag
        if found is None or (read and found.etag.strip('"') != read.strip('"')):
            raise RenderError("the source document was replaced by newer content since it was read")
        return found.body

    def _key(self, record: LedgerRecord, page: int) -> str:
        return self.state.key("review", "pages", record.request_file_id, str(page))


def _metadata(rendered: PageImage) -> dict[str, str]:
    return {
        "width": repr(rendered.width),
        "height": repr(rendered.height),
        "pages": str(rendered.page_count),
    }


def _info(cached: StoredObject) -> PageInfo | None:
    try:
        return PageInfo(
            width=float(cached.metadata["width"]),
            height=float(cached.metadata["height"]),
            page_count=int(cached.metadata["pages"]),
            content_type=cached.content_type,
        )
    except (KeyError, ValueError):
        return None  # not one of ours: render again
