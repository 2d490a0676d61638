"""Pure-Python parsing layer of ingest: bytes and records in, NormalizedItems out.

Importable without Django being configured; the models, inbox and Celery pipeline are
built on top of these functions. Formats and limits: docs/ingest-formats.md.
"""

from __future__ import annotations

from monitoring.platforms import PLATFORMS

from .errors import FetchError, IngestError, ItemError, MappingError, PayloadError
from .feeds import external_id_from_url, platform_from_url, weibo_bid_to_mid, weibo_mid_to_bid
from .fetch import FeedFetchState, FetchResult, fetch_url
from .fields import MAX_TEXT_CHARS
from .files import parse_payload
from .fingerprint import (
    NEAR_DUPLICATE_DISTANCE,
    Fingerprint,
    fingerprint,
    fingerprint_many,
    from_signed64,
    hamming,
    is_near_duplicate,
    simhash64,
    simhash_many,
    text_fingerprint,
    to_signed64,
)
from .items import NormalizedItem, ParseResult, Rejection
from .mapping import (
    MappingPreview,
    PreviewRow,
    apply_mapping,
    parse_mapped,
    preview_mapping,
    validate_mapping,
)
from .reposts import RepostChain, parse_repost_chain
from .shapes import SHAPES, detect_shape, expand_record, normalize_record

__all__ = [
    "MAX_TEXT_CHARS",
    "NEAR_DUPLICATE_DISTANCE",
    "PLATFORMS",
    "SHAPES",
    "FeedFetchState",
    "FetchError",
    "FetchResult",
    "Fingerprint",
    "IngestError",
    "ItemError",
    "MappingError",
    "MappingPreview",
    "NormalizedItem",
    "ParseResult",
    "PayloadError",
    "PreviewRow",
    "Rejection",
    "RepostChain",
    "apply_mapping",
    "detect_shape",
    "expand_record",
    "external_id_from_url",
    "fetch_url",
    "fingerprint",
    "fingerprint_many",
    "from_signed64",
    "hamming",
    "is_near_duplicate",
    "normalize_record",
    "parse_mapped",
    "parse_payload",
    "parse_repost_chain",
    "platform_from_url",
    "preview_mapping",
    "simhash64",
    "simhash_many",
    "text_fingerprint",
    "to_signed64",
    "validate_mapping",
    "weibo_bid_to_mid",
    "weibo_mid_to_bid",
]
