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


_texts = st.one_of(st.text(st.characters(exclude_categories=("Cs",))),
                   st.uuids().map(str), st.binary(min_size=32, max_size=32).map(bytes.hex),
                   st.sampled_from(['"', "\\", "\x7f", "\x00", "\u2028", "é", "\U0001f600"]))


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
                 st.sampled_from([0, 1, 2**53 - 1, -(2**53) + 1])),
       st.integers(min_value=0, max_value=2**53 - 1), _texts, _texts, _texts)
def test_every_field_written_as_rfc8785_writes_it(seq: int, version: int, stream: str,
                                                  topic: str, record: str) -> None:
    """The fast path writes stream id and record hash unescaped when they need no escaping,
    and the topic from a cache: any text in any of the three must still give RFC 8785."""
    fields = leaf_fields(seq, stream, version, topic, record)
    assert leaf_bytes(seq, stream, version, topic, record) == rfc8785.dumps(fields)


def test_values_that_are_not_plain_ints_or_strings_are_read_as_before() -> None:
    """The verifier passes what an export holds: a bool or a float seq means its int, as the
    leaf fields always did; a lone surrogate is refused as RFC 8785 refuses it."""
    sha = "ab" * 32
    sid = "ee38707c-09e7-5f0d-9a5a-cdc028cb3214"
    assert leaf_bytes(True, sid, 2.0, "t", sha) == leaf_bytes(1, sid, 2, "t", sha)  # type: ignore[arg-type]
    for bad in ("\ud800", "a\udfffb"):
        for args in ((7, sid, 2, bad, sha), (7, bad, 2, "t", sha), (7, sid, 2, "t", bad)):
            try:
                leaf_bytes(*args)
            except rfc8785.CanonicalizationError:
                continue
            raise AssertionError(f"a lone surrogate was written: {args!r}")
