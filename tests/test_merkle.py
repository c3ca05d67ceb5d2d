"""Tests for replay.merkle: RFC 6962 hashing, the accumulator and proof generation."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
)
from replay.proofcheck import verify_consistency, verify_inclusion

# ---------------------------------------------------------------------------
# Published RFC 6962 reference vectors (data only).
# Source: transparency-dev/merkle testonly/constants.go (LeafInputs, NodeHashes,
# RootHashes, CompactTrees), the same vectors as google/certificate-transparency
# python/ct/crypto/merkle_test.py (test_vector_leaves, test_vector_hashes).
# ---------------------------------------------------------------------------

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]

# NODE_HASHES[level][index]: roots of the perfect subtrees of the 8-leaf tree.
NODE_HASHES = [
    [
        bytes.fromhex(h)
        for h in [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ]
    ],
    [
        bytes.fromhex(h)
        for h in [
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        ]
    ],
    [
        bytes.fromhex(h)
        for h in [
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ]
    ],
    [bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

# ROOT_HASHES[n]: root of the tree over the first n leaves (n = 0 is the empty tree).
ROOT_HASHES = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]

_NH = NODE_HASHES
# COMPACT_STATES[n]: the perfect-subtree roots (left to right) of the n-leaf tree,
# from testonly/constants.go CompactTrees.
COMPACT_STATES: list[list[bytes]] = [
    [],
    [_NH[0][0]],
    [_NH[1][0]],
    [_NH[1][0], _NH[0][2]],
    [_NH[2][0]],
    [_NH[2][0], _NH[0][4]],
    [_NH[2][0], _NH[1][2]],
    [_NH[2][0], _NH[1][2], _NH[0][6]],
    [_NH[3][0]],
]

# (index, size, proof): from transparency-dev/merkle testonly/reference_test.go
# (TestRefInclusionProof) and proof/verify_test.go (inclusionProofs, whose leaf
# numbers are 1-based there and 0-based here).
INCLUSION_VECTORS: list[tuple[int, int, list[str]]] = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# (old_size, new_size, proof): from transparency-dev/merkle proof/verify_test.go
# (consistencyProofs), also in google/certificate-transparency merkle_test.py.
CONSISTENCY_VECTORS: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

VECTOR_LEAF_HASHES = [leaf_hash(d) for d in LEAF_INPUTS]


def _leaves(n: int) -> list[bytes]:
    """Return ``n`` distinct leaf hashes."""
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


# ---------------------------------------------------------------------------
# Straight transcriptions of the RFC 9162 recursive definitions (MTH, PATH,
# PROOF/SUBPROOF), used as an independent oracle on small trees.
# ---------------------------------------------------------------------------


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _split(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _split(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _split(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# ---------------------------------------------------------------------------
# Hashing primitives against published values.
# ---------------------------------------------------------------------------


def test_empty_root_is_sha256_of_empty_string() -> None:
    assert ROOT_HASHES[0] == EMPTY_ROOT
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert MerkleAccumulator().root() == EMPTY_ROOT


def test_leaf_hash_matches_published_leaf_hashes() -> None:
    assert NODE_HASHES[0] == VECTOR_LEAF_HASHES
    # google/certificate-transparency merkle_test.py TreeHasherTest.sha256_leaves
    assert leaf_hash(bytes.fromhex("101112131415161718191a1b1c1d1e1f")) == bytes.fromhex(
        "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a"
    )


def test_node_hash_matches_published_node_hashes() -> None:
    # google/certificate-transparency merkle_test.py TreeHasherTest.sha256_nodes
    left = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    right = bytes.fromhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f")
    assert node_hash(left, right) == bytes.fromhex(
        "1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57"
    )
    for level in range(1, len(NODE_HASHES)):
        below = NODE_HASHES[level - 1]
        assert NODE_HASHES[level] == [
            node_hash(below[2 * i], below[2 * i + 1]) for i in range(len(below) // 2)
        ]


@pytest.mark.parametrize("size", range(9))
def test_root_matches_published_root_for_each_size(size: int) -> None:
    assert root_from_leaf_hashes(VECTOR_LEAF_HASHES[:size]) == ROOT_HASHES[size]


@pytest.mark.parametrize("size", range(9))
def test_accumulator_state_matches_published_compact_range(size: int) -> None:
    acc = MerkleAccumulator()
    acc.extend(VECTOR_LEAF_HASHES[:size])
    assert acc.size == len(acc) == size
    assert acc.to_state() == COMPACT_STATES[size]
    assert acc.root() == ROOT_HASHES[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_proof_matches_published_vector(index: int, size: int, proof: list[str]) -> None:
    assert inclusion_proof(VECTOR_LEAF_HASHES, index, size) == [bytes.fromhex(p) for p in proof]


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CONSISTENCY_VECTORS)
def test_consistency_proof_matches_published_vector(
    old_size: int, new_size: int, proof: list[str]
) -> None:
    expected = [bytes.fromhex(p) for p in proof]
    assert consistency_proof(VECTOR_LEAF_HASHES, old_size, new_size) == expected


# ---------------------------------------------------------------------------
# Agreement with the RFC definitions and with the verifier.
# ---------------------------------------------------------------------------


def test_every_proof_up_to_size_40_equals_the_rfc_definition() -> None:
    leaves = _leaves(40)
    for n in range(1, 41):
        d = leaves[:n]
        assert root_from_leaf_hashes(d) == ref_mth(d)
        for i in range(n):
            assert inclusion_proof(leaves, i, n) == ref_path(i, d)
        for m in range(1, n + 1):
            assert consistency_proof(leaves, m, n) == ref_subproof(m, d, True)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=300))
def test_accumulator_root_equals_root_from_leaf_hashes_at_every_size(data: list[bytes]) -> None:
    hashes = [leaf_hash(x) for x in data]
    acc = MerkleAccumulator()
    assert acc.root() == root_from_leaf_hashes([])
    for n, h in enumerate(hashes, start=1):
        acc.append(h)
        assert acc.size == n
        assert len(acc.to_state()) == n.bit_count()
        assert acc.root() == root_from_leaf_hashes(hashes[:n])
    assert acc.root() == ref_mth(hashes)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300))
def test_state_round_trip_continues_appending_identically(split: int, extra: int) -> None:
    leaves = _leaves(split + extra)
    first = MerkleAccumulator()
    first.extend(leaves[:split])
    state = first.to_state()
    restored = MerkleAccumulator.from_state(first.size, state)
    assert restored.size == split
    assert restored.to_state() == state
    assert restored.root() == first.root()
    restored.extend(leaves[split:])
    assert restored.root() == root_from_leaf_hashes(leaves)
    # The exported list is a copy: mutating it leaves the accumulator alone.
    state.clear()
    assert len(first.to_state()) == split.bit_count()


@settings(max_examples=30, deadline=None)
@given(st.data(), st.integers(1, 300))
def test_sampled_inclusion_proofs_verify(data: st.DataObject, size: int) -> None:
    leaves = _leaves(size)
    root = root_from_leaf_hashes(leaves)
    indexes = data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=20))
    for i in {*indexes, 0, size - 1}:
        assert verify_inclusion(leaves[i], i, size, inclusion_proof(leaves, i, size), root)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(1, 300))
def test_sampled_consistency_proofs_verify(data: st.DataObject, new_size: int) -> None:
    leaves = _leaves(new_size)
    new_root = root_from_leaf_hashes(leaves)
    olds = data.draw(st.lists(st.integers(0, new_size), min_size=1, max_size=20))
    for m in {*olds, 1, new_size}:
        proof = consistency_proof(leaves, m, new_size)
        old_root = root_from_leaf_hashes(leaves[:m])
        assert verify_consistency(m, new_size, old_root, new_root, proof)


def test_proofs_ignore_leaves_beyond_the_requested_size() -> None:
    leaves = _leaves(20)
    assert inclusion_proof(leaves, 3, 11) == inclusion_proof(leaves[:11], 3, 11)
    assert consistency_proof(leaves, 5, 11) == consistency_proof(leaves[:11], 5, 11)


def test_large_tree_is_handled_iteratively() -> None:
    size = (1 << 16) + 3
    leaves = _leaves(size)
    root = root_from_leaf_hashes(leaves)
    acc = MerkleAccumulator()
    acc.extend(leaves)
    assert acc.root() == root
    for i in (0, 1, size // 2, size - 4, size - 1):
        proof = inclusion_proof(leaves, i, size)
        assert len(proof) == 17 or i >= 1 << 16
        assert verify_inclusion(leaves[i], i, size, proof, root)
    old = 40_000
    proof = consistency_proof(leaves, old, size)
    old_root = root_from_leaf_hashes(leaves[:old])
    assert verify_consistency(old, size, old_root, root, proof)


def test_consistency_from_empty_or_to_same_size_is_empty() -> None:
    leaves = _leaves(5)
    assert consistency_proof(leaves, 0, 0) == []
    assert consistency_proof(leaves, 0, 5) == []
    assert consistency_proof(leaves, 5, 5) == []


# ---------------------------------------------------------------------------
# Errors.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "size"),
    [(0, 0), (1, 0), (2, 1), (7, 7), (8, 7), (-1, 5), (0, -1), (0, 9), (True, 5)],
)
def test_inclusion_proof_rejects_out_of_range_index_or_size(index: int, size: int) -> None:
    with pytest.raises(MerkleError):
        inclusion_proof(_leaves(8), index, size)


@pytest.mark.parametrize(
    ("old_size", "new_size"), [(5, 0), (9, 8), (5, 4), (-1, 3), (0, -1), (3, 9), (9, 9)]
)
def test_consistency_proof_rejects_out_of_range_sizes(old_size: int, new_size: int) -> None:
    with pytest.raises(MerkleError):
        consistency_proof(_leaves(8), old_size, new_size)


def test_merkle_error_is_a_value_error() -> None:
    assert issubclass(MerkleError, ValueError)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "a" * 32])
def test_append_rejects_values_that_are_not_32_byte_hashes(bad: bytes) -> None:
    acc = MerkleAccumulator()
    with pytest.raises(MerkleError):
        acc.append(bad)
    assert acc.size == 0


def test_proof_generation_rejects_malformed_leaf_hashes() -> None:
    leaves = _leaves(4)
    leaves[2] = b"short"
    with pytest.raises(MerkleError):
        root_from_leaf_hashes(leaves)
    with pytest.raises(MerkleError):
        inclusion_proof(leaves, 0, 4)


@pytest.mark.parametrize(
    ("size", "roots"),
    [
        (3, [b"\x00" * 32]),  # size 3 needs two roots
        (4, [b"\x00" * 32, b"\x00" * 32]),  # size 4 needs one root
        (0, [b"\x00" * 32]),
        (1, [b"\x00" * 31]),
        (-1, []),
    ],
)
def test_from_state_rejects_inconsistent_state(size: int, roots: list[bytes]) -> None:
    with pytest.raises(MerkleError):
        MerkleAccumulator.from_state(size, roots)
