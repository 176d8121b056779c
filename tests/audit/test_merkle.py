"""The Merkle tree against published known answers and adversarial proofs (RFC 6962 / 9162).

The test vector is the one of RFC 6962's reference implementation (certificate-transparency,
also used by Go's transparency-dev/merkle): eight leaves and the root of each prefix.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings, strategies as st

from projections import merkle

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
ROOTS = {  # published roots of the first n leaves
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# RFC 6962 reference: the audit path of leaf 0 in the 8-leaf tree, and of leaf 5 in size 8
PATH_0_8 = ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]
PATH_5_8 = ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]
# RFC 6962 reference consistency proofs
CONSISTENCY = {
    (1, 8): PATH_0_8,
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}

HASHES = [merkle.leaf_hash(x) for x in LEAVES]


def stored_tree(leaf_hashes: list[bytes]) -> tuple[dict[merkle.Node, bytes], list[int]]:
    """The node table a store keeps, built by appending; and a counter of reads."""
    nodes: dict[merkle.Node, bytes] = {}
    f = merkle.Frontier()
    for h in leaf_hashes:
        nodes.update(f.append(h))
    return nodes, []


def reader(nodes: dict[merkle.Node, bytes], calls: list[int]) -> merkle.NodeReader:
    def read(keys):  # type: ignore[no-untyped-def]
        calls.append(len(keys))
        return {k: nodes[k] for k in keys if k in nodes}
    return read


# ---- a straight transcription of RFC 9162 §2.1 as an independent reference --------------------

def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return merkle.leaf_hash(d[0])
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return merkle.node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


# ---- known answers ------------------------------------------------------------------------------

def test_the_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert merkle.EMPTY_ROOT.hex() == EMPTY
    assert merkle.root(0, lambda keys: {}).hex() == EMPTY
    assert merkle.root_of_leaves([]).hex() == EMPTY


@pytest.mark.parametrize("n", sorted(ROOTS))
def test_roots_of_the_rfc6962_test_vector(n: int) -> None:
    assert merkle.root_of_leaves(HASHES[:n]).hex() == ROOTS[n]
    nodes, calls = stored_tree(HASHES[:n])
    assert merkle.root(n, reader(nodes, calls)).hex() == ROOTS[n]
    # and a tree grown to 8 still answers the root of its first n leaves
    full, calls = stored_tree(HASHES)
    assert merkle.root(n, reader(full, calls)).hex() == ROOTS[n]


def test_published_inclusion_paths() -> None:
    nodes, calls = stored_tree(HASHES)
    read = reader(nodes, calls)
    assert [h.hex() for h in merkle.inclusion_proof(0, 8, read)] == PATH_0_8
    assert [h.hex() for h in merkle.inclusion_proof(5, 8, read)] == PATH_5_8
    root = bytes.fromhex(ROOTS[8])
    assert merkle.verify_inclusion(0, 8, HASHES[0], [bytes.fromhex(h) for h in PATH_0_8], root)
    assert merkle.verify_inclusion(5, 8, HASHES[5], [bytes.fromhex(h) for h in PATH_5_8], root)


@pytest.mark.parametrize(("first", "second"), sorted(CONSISTENCY))
def test_published_consistency_proofs(first: int, second: int) -> None:
    nodes, calls = stored_tree(HASHES)
    proof = merkle.consistency_proof(first, second, reader(nodes, calls))
    assert [h.hex() for h in proof] == CONSISTENCY[(first, second)]
    assert merkle.verify_consistency(first, second, bytes.fromhex(ROOTS[first]),
                                     bytes.fromhex(ROOTS[second]), proof)


# ---- every proof of small trees, against the RFC transcription ---------------------------------

@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_stored_proofs_equal_the_rfc_recursion_and_verify(n: int, data: st.DataObject) -> None:
    raw = [i.to_bytes(4, "big") for i in range(n)]
    nodes, calls = stored_tree([merkle.leaf_hash(x) for x in raw])
    read = reader(nodes, calls)
    root = merkle.root(n, read)
    assert root == ref_mth(raw)
    m = data.draw(st.integers(min_value=0, max_value=n - 1))
    path = merkle.inclusion_proof(m, n, read)
    assert path == ref_path(m, raw)
    assert merkle.verify_inclusion(m, n, merkle.leaf_hash(raw[m]), path, root)
    first = data.draw(st.integers(min_value=1, max_value=n))
    proof = merkle.consistency_proof(first, n, read)
    assert proof == ref_subproof(first, raw, True)
    assert merkle.verify_consistency(first, n, ref_mth(raw[:first]), root, proof)


def test_a_proof_needs_one_read_of_at_most_two_nodes_per_level() -> None:
    n = 1_000_003
    calls: list[int] = []

    def read(keys):  # type: ignore[no-untyped-def]
        calls.append(len(keys))
        return {k: hashlib.sha256(repr(k).encode()).digest() for k in keys}

    merkle.inclusion_proof(123_457, n, read)
    merkle.consistency_proof(654_321, n, read)
    merkle.root(n, read)
    assert len(calls) == 3
    assert max(calls) <= 2 * n.bit_length()


# ---- adversarial proofs ---------------------------------------------------------------------------

def _all_inclusion_cases() -> list[tuple[int, int]]:
    return [(m, n) for n in range(1, 9) for m in range(n)]


@pytest.mark.parametrize(("m", "n"), _all_inclusion_cases())
def test_tampered_inclusion_proofs_are_rejected(m: int, n: int) -> None:
    nodes, calls = stored_tree(HASHES)
    read = reader(nodes, calls)
    root = merkle.root(n, read)
    path = merkle.inclusion_proof(m, n, read)
    leaf = HASHES[m]
    assert merkle.verify_inclusion(m, n, leaf, path, root)
    # a claimed size is checked against the signed root of that size
    bad: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (m, size, leaf, path, merkle.root(size, read))
        for size in range(m + 1, 9) if size != n]
    bad += [
        (m, m, leaf, path, root),                                     # index == size
        (m, n * 2, leaf, path, root),                                 # a size never signed
        (m, n, HASHES[(m + 1) % 8], path, root),                      # wrong leaf
        (m, n, leaf, path, hashlib.sha256(b"other").digest()),        # wrong root
        (m, n, leaf, path + [root], root),                            # padded at the end
        (m, n, leaf, [leaf] + path, root),                            # padded at the start
    ]
    bad += [(other, n, leaf, path, root) for other in range(n) if other != m]  # wrong index
    if path:
        bad.append((m, n, leaf, path[:-1], root))                     # truncated
        bad.append((m, n, leaf, path[1:], root))
        flipped = bytearray(path[0])
        flipped[0] ^= 1
        bad.append((m, n, leaf, [bytes(flipped), *path[1:]], root))   # one bit flipped
        bad.append((m, n, leaf, [path[0][:31], *path[1:]], root))     # a short hash
    if len(path) > 1:
        bad.append((m, n, leaf, [path[1], path[0], *path[2:]], root))  # siblings swapped
    for case in bad:
        assert not merkle.verify_inclusion(*case), case[:2]


@pytest.mark.parametrize(("first", "second"),
                         [(f, s) for s in range(1, 9) for f in range(1, s + 1)])
def test_tampered_consistency_proofs_are_rejected(first: int, second: int) -> None:
    nodes, calls = stored_tree(HASHES)
    read = reader(nodes, calls)
    roots = {size: merkle.root(size, read) for size in range(0, 9)}
    r1, r2 = roots[first], roots[second]
    proof = merkle.consistency_proof(first, second, read)
    assert merkle.verify_consistency(first, second, r1, r2, proof)
    other = hashlib.sha256(b"fork").digest()
    bad = [
        (first, second, other, r2, proof), (first, second, r1, other, proof),
        (0, second, roots[0], r2, proof),                            # from the empty tree
        (second + 1, second, r1, r2, proof),                         # first > second
        (first, second, r1, r2, proof + [r1]),                       # padded
        (first, second, r1, r2, [r1, *proof]),
    ]
    # claimed sizes are checked against the signed roots of those sizes
    bad += [(f, s, roots[f], roots[s], proof) for f in range(1, 9) for s in range(f, 9)
            if (f, s) != (first, second) and merkle.consistency_proof(f, s, read) != proof]
    if first < second:
        bad += [(first, second, r1, r2, proof[:-1]), (first, second, r1, r2, [])]
        if len(proof) > 1:
            bad.append((first, second, r1, r2, [proof[1], proof[0], *proof[2:]]))
    for case in bad:
        assert not merkle.verify_consistency(*case), case[:2]


def test_a_range_the_rfc_recursion_never_produces_is_refused() -> None:
    with pytest.raises(ValueError):
        merkle.range_nodes(3, 7)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(5, 5, lambda keys: {})
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, 5, lambda keys: {})
