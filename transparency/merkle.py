"""RFC 9162 Merkle tree hashes, proofs and proof checks, over plain bytes.

Leaves are numbered from 0. ``MTH(D[a:b])`` is :func:`subtree_root`; it needs the
hash of any *perfect* subtree (2**level leaves starting at a multiple of
2**level), which the caller supplies (the store reads them from its node table,
tests from a list), so a proof costs O(log n) node reads, never a pass over the
leaves. The checks are RFC 9162 sections 2.1.3.2 and 2.1.4.2 verbatim.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

# (level, index) -> hash of leaves [index * 2**level, (index + 1) * 2**level)
NodeReader = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(width: int) -> int:
    """The largest power of two smaller than ``width`` (``width`` > 1)."""
    return 1 << ((width - 1).bit_length() - 1)


def is_perfect(start: int, end: int) -> bool:
    width = end - start
    return width > 0 and width & (width - 1) == 0 and start % width == 0


def subtree_root(start: int, end: int, node: NodeReader) -> bytes:
    """MTH(D[start:end]) from the perfect subtrees inside it."""
    if end <= start:
        return EMPTY_ROOT
    if is_perfect(start, end):
        width = end - start
        return node(width.bit_length() - 1, start // width)
    k = split_point(end - start)
    return node_hash(subtree_root(start, start + k, node), subtree_root(start + k, end, node))


def perfect_parts(start: int, end: int) -> list[tuple[int, int]]:
    """The (level, index) of every perfect subtree :func:`subtree_root` reads for a range."""
    if end <= start:
        return []
    if is_perfect(start, end):
        width = end - start
        return [(width.bit_length() - 1, start // width)]
    k = split_point(end - start)
    return perfect_parts(start, start + k) + perfect_parts(start + k, end)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots form PATH(index, D[0:size]), leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots form PROOF(first, D[0:second]) (RFC 9162 2.1.4.1)."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    ranges: list[tuple[int, int]] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        if m == end - start:
            if not whole:
                ranges.append((start, end))
            return
        k = split_point(end - start)
        if m <= k:
            subproof(m, start, start + k, whole)
            ranges.append((start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            ranges.append((start, start + k))

    subproof(first, 0, second, True)
    return ranges


def inclusion_proof(index: int, size: int, node: NodeReader) -> list[bytes]:
    return [subtree_root(a, b, node) for a, b in inclusion_ranges(index, size)]


def consistency_proof(first: int, second: int, node: NodeReader) -> list[bytes]:
    return [subtree_root(a, b, node) for a, b in consistency_ranges(first, second)]


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: whether ``leaf`` is leaf ``index`` of the tree of ``size``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: whether the tree of ``second`` extends the tree of ``first``."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
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
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


@dataclass(frozen=True)
class Frontier:
    """The perfect subtrees a tree of ``size`` decomposes into, largest first.

    Enough to append the next leaf and to compute the root, so an append reads
    one row and writes the new leaf plus the nodes it completes (one on average).
    """

    size: int
    nodes: tuple[tuple[int, int, bytes], ...]  # (level, index, hash)

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, ())

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        root = self.nodes[-1][2]
        for _, _, left in reversed(self.nodes[:-1]):
            root = node_hash(left, root)
        return root

    def append(self, leaf: bytes) -> tuple[Frontier, list[tuple[int, int, bytes]]]:
        """The frontier after one more leaf, and the inner nodes (level >= 1) completed."""
        nodes = list(self.nodes)
        level, index, value = 0, self.size, leaf
        completed: list[tuple[int, int, bytes]] = []
        while nodes and nodes[-1][0] == level:
            _, left_index, left = nodes.pop()
            level, index, value = level + 1, left_index // 2, node_hash(left, value)
            completed.append((level, index, value))
        nodes.append((level, index, value))
        return Frontier(self.size + 1, tuple(nodes)), completed
