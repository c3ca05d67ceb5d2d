"""RFC 6962 / RFC 9162 Merkle tree hashing, a compact accumulator, and proof generation.

Hashing follows RFC 6962 section 2.1 with SHA-256:

* leaf hash: ``SHA-256(0x00 || data)``
* interior node: ``SHA-256(0x01 || left || right)``
* empty tree: ``SHA-256("")``

Every function works on *leaf hashes* (32-byte values already produced by
:func:`leaf_hash`), so callers can keep the hashes and drop the leaf data.
Proofs are lists of 32-byte hashes ordered from the leaf level upwards, as in
RFC 9162 sections 2.1.3.1 (inclusion) and 2.1.4.1 (consistency). They are
checked by the standalone module :mod:`replay.proofcheck`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Self

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleAccumulator",
    "MerkleError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
]

HASH_SIZE = 32
"""Length in bytes of every hash handled here (SHA-256)."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""Root hash of the empty tree, ``SHA-256("")``."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class MerkleError(ValueError):
    """Raised for an out-of-range index or size, or a malformed hash or state."""


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise MerkleError(f"{what} must be {HASH_SIZE} bytes")
    return bytes(value)


def _check_size(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MerkleError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly less than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleAccumulator:
    """Append-only Merkle tree kept as the roots of its perfect subtrees.

    A tree of ``size`` leaves is the concatenation of perfect subtrees whose
    sizes are the set bits of ``size``, largest (leftmost) first; only their
    roots are kept (a "compact range" over ``[0, size)``). ``append`` is
    amortised O(1), ``root`` is O(log n) and the state is ``popcount(size)``
    hashes, which :meth:`to_state` / :meth:`from_state` persist and restore.
    """

    __slots__ = ("_roots", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._roots: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, roots: Sequence[bytes]) -> Self:
        """Rebuild an accumulator from ``size`` and the list :meth:`to_state` returned."""
        size = _check_size(size, "size")
        if len(roots) != size.bit_count():
            raise MerkleError(
                f"a tree of size {size} has {size.bit_count()} subtree roots, got {len(roots)}"
            )
        acc = cls()
        acc._size = size
        acc._roots = [_check_hash(r, "subtree root") for r in roots]
        return acc

    def to_state(self) -> list[bytes]:
        """Return the perfect-subtree roots, leftmost (largest) first."""
        return list(self._roots)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self._size}, root={self.root().hex()})"

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (32 bytes) to the tree."""
        self._push(_check_hash(leaf_hash, "leaf hash"))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes in order."""
        for h in leaf_hashes:
            self._push(_check_hash(h, "leaf hash"))

    def _push(self, h: bytes) -> None:
        # Each trailing 1 bit of the old size is a perfect subtree that the new
        # leaf completes: merge them right to left, like a binary carry.
        roots = self._roots
        n = self._size
        while n & 1:
            h = _sha256(_NODE_PREFIX + roots.pop() + h).digest()
            n >>= 1
        roots.append(h)
        self._size += 1

    def root(self) -> bytes:
        """Return the RFC 6962 Merkle tree hash of the leaves appended so far."""
        roots = self._roots
        if not roots:
            return EMPTY_ROOT
        # MTH splits at the largest power of two, i.e. the leftmost subtree,
        # so the root folds the subtree roots from right to left.
        h = roots[-1]
        for left in reversed(roots[:-1]):
            h = _sha256(_NODE_PREFIX + left + h).digest()
        return h


def _range_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """Return MTH of ``leaf_hashes[start:end]`` in O(end - start) without copying."""
    acc = MerkleAccumulator()
    push = acc._push
    for i in range(start, end):
        h = leaf_hashes[i]
        if len(h) != HASH_SIZE:
            raise MerkleError(f"leaf hash at index {i} must be {HASH_SIZE} bytes")
        push(bytes(h))
    return acc.root()


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 Merkle tree hash (MTH) of all ``leaf_hashes``."""
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Return the RFC 9162 inclusion proof PATH(index, D[0:size]).

    ``leaf_hashes`` must hold at least ``size`` leaf hashes; only the first
    ``size`` are used. Raises :class:`MerkleError` unless ``0 <= index < size``.
    """
    size = _check_size(size, "size")
    index = _check_size(index, "index")
    if size > len(leaf_hashes):
        raise MerkleError(f"tree size {size} exceeds the {len(leaf_hashes)} leaves available")
    if index >= size:
        raise MerkleError(f"leaf index {index} is outside a tree of size {size}")

    # Walk down from the root; each step records the sibling subtree's root.
    # The sibling ranges are disjoint, so the total work is O(size).
    siblings: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        mid = lo + k
        if index < mid:
            siblings.append(_range_root(leaf_hashes, mid, hi))
            hi = mid
        else:
            siblings.append(_range_root(leaf_hashes, lo, mid))
            lo = mid
    siblings.reverse()
    return siblings


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof PROOF(old_size, D[0:new_size]).

    The proof is empty when ``old_size == new_size`` and, by this project's
    convention, when ``old_size == 0`` (the empty tree is a prefix of every
    tree; RFC 9162 defines proofs only for ``0 < old_size < new_size``).
    Raises :class:`MerkleError` unless ``0 <= old_size <= new_size <= len(leaf_hashes)``.
    """
    old_size = _check_size(old_size, "old_size")
    new_size = _check_size(new_size, "new_size")
    if new_size > len(leaf_hashes):
        raise MerkleError(f"tree size {new_size} exceeds the {len(leaf_hashes)} leaves available")
    if old_size > new_size:
        raise MerkleError(f"old_size {old_size} is larger than new_size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []

    # Iterative SUBPROOF(m, D[lo:hi], b): record one sibling per level going
    # down, then the root of the old tree's last subtree unless it is the
    # whole old tree (b still true). Nodes come out top-down, so reverse.
    nodes: list[bytes] = []
    lo, hi = 0, new_size
    m = old_size
    whole_old_tree = True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            nodes.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            nodes.append(_range_root(leaf_hashes, lo, lo + k))
            lo += k
            m -= k
            whole_old_tree = False
    if not whole_old_tree:
        nodes.append(_range_root(leaf_hashes, lo, hi))
    nodes.reverse()
    return nodes
