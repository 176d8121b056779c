"""RFC 9162 §2.1 Merkle trees: hashes, roots, inclusion and consistency proofs. Standard library
only, so that the offline verifier (and anyone reading it) needs nothing else.

The tree over leaves D[0:n] is MTH(D[0:n]) with the split at the largest power of two below n.
Every subtree that appears in that recursion is *aligned*: it starts at a multiple of its own
width. A stored tree therefore keeps, for every complete subtree, the hash at `(level, index)`
(level = log2 of its width, index = its first leaf >> level); the hash of any range the RFC
recursion asks for is then the fold of at most log2(n) stored nodes (`range_nodes`), and a proof
or root needs O(log n) reads through a `NodeReader`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

Node = tuple[int, int]  # (level, index): the complete subtree of leaves [index<<level, (index+1)<<level)
NodeReader = Callable[[Sequence[Node]], dict[Node, bytes]]  # many nodes in one read

EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256 of the empty string


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(lo: int, hi: int) -> list[Node]:
    """The complete subtrees whose right fold is MTH(D[lo:hi]), left to right (widest first)."""
    out: list[Node] = []
    while lo < hi:
        size = hi - lo
        width = size if size & (size - 1) == 0 else _split(size)
        level = width.bit_length() - 1
        if lo % width:
            raise ValueError(f"range [{lo}, {hi}) is not one the RFC 9162 recursion produces")
        out.append((level, lo >> level))
        lo += width
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of `range_nodes` (the right part is the smaller)."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def inclusion_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """PATH(m, D[0:n]) as the ranges whose MTH form the audit path, leaf end first."""
    if not 0 <= m < n:
        raise ValueError(f"leaf {m} is not in a tree of size {n}")
    lo, hi = 0, n
    top_down: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < lo + k:
            top_down.append((lo + k, hi))
            hi = lo + k
        else:
            top_down.append((lo, lo + k))
            lo += k
    return top_down[::-1]


def consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """PROOF(m, D[0:n]) (RFC 9162 §2.1.4.1) as the ranges whose MTH form the proof."""
    if not 0 < m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    out: list[tuple[int, int]] = []
    if m == n:
        return out

    def sub(m: int, lo: int, hi: int, complete: bool) -> None:
        size = hi - lo
        if m == size:
            if not complete:
                out.append((lo, hi))
            return
        k = _split(size)
        if m <= k:
            sub(m, lo, lo + k, complete)
            out.append((lo + k, hi))
        else:
            sub(m - k, lo + k, hi, False)
            out.append((lo, lo + k))

    sub(m, 0, n, True)
    return out


def _hashes_of(ranges: Sequence[tuple[int, int]], read: NodeReader) -> list[bytes]:
    per_range = [range_nodes(lo, hi) for lo, hi in ranges]
    wanted = sorted({node for nodes in per_range for node in nodes})
    found = read(wanted) if wanted else {}
    missing = [node for node in wanted if node not in found]
    if missing:
        raise LookupError(f"tree nodes missing: {missing[:3]}")
    return [fold([found[node] for node in nodes]) for nodes in per_range]


def root(n: int, read: NodeReader) -> bytes:
    return _hashes_of([(0, n)], read)[0] if n else EMPTY_ROOT


def inclusion_proof(m: int, n: int, read: NodeReader) -> list[bytes]:
    return _hashes_of(inclusion_ranges(m, n), read)


def consistency_proof(m: int, n: int, read: NodeReader) -> list[bytes]:
    return _hashes_of(consistency_ranges(m, n), read)


# ---- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------

def root_from_inclusion(leaf_index: int, tree_size: int, leaf: bytes,
                        path: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to, or None when the proof is malformed."""
    if not 0 <= leaf_index < tree_size:
        return None
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return None  # a path longer than the tree is tall
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def _hashes(*values: bytes) -> bool:
    return all(isinstance(v, bytes) and len(v) == 32 for v in values)


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes],
                     expected_root: bytes) -> bool:
    if not _hashes(leaf, expected_root, *path):
        return False
    return root_from_inclusion(leaf_index, tree_size, leaf, path) == expected_root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    # RFC 9162 defines proofs for 0 < first <= second only (as the reference implementations do)
    if not 0 < first <= second or not _hashes(first_root, second_root, *proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first root is the first node
        path = [first_root] + path
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# ---- building a tree in memory or incrementally ------------------------------------------------

class Frontier:
    """The right edge of a growing tree: one hash per complete subtree of the binary
    decomposition of its size. Appending is amortised O(1); `root()` is O(log n). `appended`
    returns the complete-subtree nodes each append creates (what a store writes)."""

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        self.size = size
        self._edge: list[tuple[int, bytes]] = []  # (level, hash), widest first
        levels = [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]
        if len(levels) != len(edge):
            raise ValueError("the edge does not match the size")
        self._edge = list(zip(levels, edge))

    @staticmethod
    def edge_nodes(size: int) -> list[Node]:
        """The stored nodes a Frontier of this size starts from (= range_nodes(0, size))."""
        return range_nodes(0, size)

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        index = self.size
        created = [((0, index), leaf)]
        level, h = 0, leaf
        while self._edge and self._edge[-1][0] == level:
            _, left = self._edge.pop()
            h = node_hash(left, h)
            level += 1
            created.append(((level, index >> level), h))
        self._edge.append((level, h))
        self.size += 1
        return created

    def root(self) -> bytes:
        return fold([h for _, h in self._edge])


def root_of_leaves(leaves: Iterable[bytes]) -> bytes:
    """MTH of a sequence of leaf hashes, streaming."""
    f = Frontier()
    for leaf in leaves:
        f.append(leaf)
    return f.root()
