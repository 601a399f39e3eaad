"""An answer's body decoded as its Content-Encoding says, whole and bounded (finsent.ingest.transfer)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from finsent.ingest.transfer import BodyError, decode_body

BODY = "삼성전자 종목토론실".encode() * 50


def test_gzip_deflate_raw_deflate_and_identity_decode():
    assert decode_body(gzip.compress(BODY), "gzip") == BODY
    assert decode_body(zlib.compress(BODY), "deflate") == BODY
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode_body(raw.compress(BODY) + raw.flush(), "deflate") == BODY  # without the zlib header
    assert decode_body(BODY, None) == BODY == decode_body(BODY, "identity")
    assert decode_body(gzip.compress(zlib.compress(BODY)), "deflate, gzip") == BODY  # applied in order


def test_a_cut_or_unasked_encoding_is_a_body_error():
    with pytest.raises(BodyError, match="does not decode as Content-Encoding gzip"):
        decode_body(gzip.compress(BODY)[:-20], "gzip")
    with pytest.raises(BodyError, match="Content-Encoding 'br' was not asked for"):
        decode_body(BODY, "br")
