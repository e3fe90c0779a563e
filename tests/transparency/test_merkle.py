"""The tree's hashes and proofs, against RFC 6962's reference roots and as properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from transparency import merkle
from transparency.merkle import Frontier

# The eight inputs and roots of the reference tests that RFC 6962 implementations
# share (certificate-transparency's merkle tree tests): sizes 1 to 8.
REFERENCE_LEAVES = [
    b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70)),
]  # fmt: skip
REFERENCE_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


class Tree:
    """A tree grown leaf by leaf, keeping every node the frontier completes."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.frontier = Frontier.empty()
        self.nodes: dict[tuple[int, int], bytes] = {}
        for data in leaves:
            leaf = merkle.leaf_hash(data)
            self.nodes[(0, self.frontier.size)] = leaf
            self.frontier, completed = self.frontier.append(leaf)
            for level, index, value in completed:
                self.nodes[(level, index)] = value

    def node(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]


def naive_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162's definition."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = merkle.split_point(len(leaves))
    return merkle.node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def test_roots_equal_the_rfc_6962_reference_roots() -> None:
    for size in range(1, 9):
        tree = Tree(REFERENCE_LEAVES[:size])
        assert tree.frontier.root().hex() == REFERENCE_ROOTS[size - 1]


def test_the_empty_tree_has_the_hash_of_nothing() -> None:
    assert Frontier.empty().root() == merkle.EMPTY_ROOT


entries = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None)
@given(entries, st.data())
def test_every_inclusion_proof_verifies_and_a_changed_one_does_not(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = Tree(leaves)
    size = len(leaves)
    assert tree.frontier.root() == naive_root(leaves)
    index = data.draw(st.integers(0, size - 1))
    smaller = data.draw(st.integers(index + 1, size))
    root = merkle.subtree_root(0, smaller, tree.node)
    assert root == naive_root(leaves[:smaller])
    path = merkle.inclusion_proof(index, smaller, tree.node)
    leaf = merkle.leaf_hash(leaves[index])
    assert merkle.verify_inclusion(index, smaller, leaf, path, root)
    assert not merkle.verify_inclusion(index, smaller, merkle.leaf_hash(b"other" + leaves[index]),
                                       path, root)  # fmt: skip
    if path:
        broken = list(path)
        spot = data.draw(st.integers(0, len(path) - 1))
        broken[spot] = bytes([broken[spot][0] ^ 1]) + broken[spot][1:]
        assert not merkle.verify_inclusion(index, smaller, leaf, broken, root)
        assert not merkle.verify_inclusion(index, smaller, leaf, path[:-1], root)
    if smaller > 1:
        assert not merkle.verify_inclusion((index + 1) % smaller, smaller, leaf, path, root) or (
            leaves[(index + 1) % smaller] == leaves[index]
        )


@settings(max_examples=60, deadline=None)
@given(entries, st.data())
def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = Tree(leaves)
    second = len(leaves)
    first = data.draw(st.integers(1, second))
    proof = merkle.consistency_proof(first, second, tree.node)
    first_root = naive_root(leaves[:first])
    assert merkle.verify_consistency(first, second, first_root, tree.frontier.root(), proof)
    rewritten = list(leaves)
    spot = data.draw(st.integers(0, first - 1))
    rewritten[spot] = rewritten[spot] + b"!"
    other = naive_root(rewritten[:first])
    assert not merkle.verify_consistency(first, second, other, tree.frontier.root(), proof)
    if proof:
        assert not merkle.verify_consistency(
            first, second, first_root, tree.frontier.root(), proof[:-1]
        )
