"""The leaf bytes of ADR 0013 are RFC 8785 canonical JSON, byte for byte."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings, strategies as st

from projections.audit_format import leaf_bytes, leaf_fields


def test_a_known_leaf() -> None:
    assert leaf_bytes(7, "ee38707c-09e7-5f0d-9a5a-cdc028cb3214", 2, "kemitraan.X",
                      "ab" * 32) == (
        b'{"record_sha256":"' + b"ab" * 32 + b'","seq":7,'
        b'"stream_id":"ee38707c-09e7-5f0d-9a5a-cdc028cb3214","topic":"kemitraan.X",'
        b'"v":1,"version":2}')


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
       st.integers(min_value=0, max_value=2**53 - 1),
       st.text(st.characters(exclude_categories=("Cs",))),
       st.text(st.characters(exclude_categories=("Cs",))))
def test_leaf_bytes_equal_rfc8785_for_any_field_values(seq: int, version: int, stream: str,
                                                        topic: str) -> None:
    fields = leaf_fields(seq, stream, version, topic, "00" * 32)
    assert leaf_bytes(seq, stream, version, topic, "00" * 32) == rfc8785.dumps(fields)
