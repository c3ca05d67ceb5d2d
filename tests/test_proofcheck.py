"""Tests for replay.proofcheck, the standalone RFC 9162 proof verifier and its CLI."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import replay.proofcheck as proofcheck
from replay.merkle import consistency_proof, inclusion_proof, root_from_leaf_hashes
from replay.merkle import leaf_hash as merkle_leaf_hash
from replay.proofcheck import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion

PROOFCHECK_PATH = Path(proofcheck.__file__)


def h(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string)


# ---------------------------------------------------------------------------
# Published vectors (data only).
# The 8 RFC 6962 test leaves and their roots come from transparency-dev/merkle
# testonly/constants.go and proof/verify_test.go (also in
# google/certificate-transparency python/ct/crypto/merkle_test.py).
# ---------------------------------------------------------------------------

LEAF_INPUTS = [
    h(x)
    for x in [
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
LEAF_HASHES = [leaf_hash(d) for d in LEAF_INPUTS]

# ROOTS[n] is the root of the tree over the first n leaves.
ROOTS = [EMPTY_ROOT] + [
    h(x)
    for x in [
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

# (index, size, proof), 0-based; proof/verify_test.go inclusionProofs (1-based
# there) and testonly/reference_test.go TestRefInclusionProof.
INCLUSION_VECTORS: list[tuple[int, int, list[bytes]]] = [
    (0, 1, []),
    (0, 2, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")]),
    (1, 2, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# (old_size, new_size, proof): proof/verify_test.go consistencyProofs, also in
# google/certificate-transparency merkle_test.py MerkleVerifierTest.sha256_proofs.
CONSISTENCY_VECTORS: list[tuple[int, int, list[bytes]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# An inclusion proof taken from a real CT log, from google/certificate-transparency
# python/ct/crypto/merkle_test.py (MerkleVerifierTest: leaf_hash, leaf_index,
# tree_size, sha256_audit_path, expected_root_hash).
CT_LEAF_HASH = h("7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78")
CT_LEAF_INDEX = 848049
CT_TREE_SIZE = 3630887
CT_ROOT = h("78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb")
CT_AUDIT_PATH = [
    h(x)
    for x in [
        "1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd",
        "0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4",
        "3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d",
        "9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe",
        "0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2",
        "2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330",
        "b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048",
        "933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966",
        "b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2",
        "daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45",
        "7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc",
        "1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56",
        "12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66",
        "29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11",
        "b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009",
        "4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8",
        "86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f",
        "a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6",
        "06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1",
        "f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960",
        "40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d",
        "b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a",
    ]
]

# Arbitrary 32-byte value from proof/verify_test.go (sha256SomeHash).
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
ZEROS = b"\x00" * 32


def _leaves(n: int) -> list[bytes]:
    """Return ``n`` distinct leaf hashes."""
    return [merkle_leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


# ---------------------------------------------------------------------------
# Tampering probes. Size changes of +-1 are deliberately absent: an RFC 9162
# inclusion or consistency proof can legitimately verify for a neighbouring
# size with the same root, so the size must come from the same signed tree
# head as the root.
# ---------------------------------------------------------------------------

InclusionArgs = tuple[bytes, int, int, list[bytes], bytes]
ConsistencyArgs = tuple[int, int, bytes, bytes, list[bytes]]


def inclusion_probes(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> list[tuple[str, InclusionArgs]]:
    probes: list[tuple[str, InclusionArgs]] = [
        ("index - 1", (leaf, index - 1, size, proof, root)),
        ("index + 1", (leaf, index + 1, size, proof, root)),
        ("index == size", (leaf, size, size, proof, root)),
        ("size * 2", (leaf, index, size * 2, proof, root)),
        ("size // 2", (leaf, index, size // 2, proof, root)),
        ("size 0", (leaf, index, 0, proof, root)),
        ("wrong leaf", (SOME_HASH, index, size, proof, root)),
        ("short leaf", (b"WrongLeaf", index, size, proof, root)),
        ("empty-tree root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("random root", (leaf, index, size, proof, SOME_HASH)),
        ("trailing empty element", (leaf, index, size, [*proof, b""], root)),
        ("trailing root", (leaf, index, size, [*proof, root], root)),
        ("leading empty element", (leaf, index, size, [b"", *proof], root)),
        ("leading root", (leaf, index, size, [root, *proof], root)),
        ("leading leaf", (leaf, index, size, [leaf, *proof], root)),
        ("33-byte root", (leaf, index, size, proof, root + b"\x00")),
        ("31-byte root", (leaf, index, size, proof, root[:-1])),
    ]
    if index ^ 2 != index:
        probes.append(("index ^ 2", (leaf, index ^ 2, size, proof, root)))
    if proof:
        probes.append(("last element removed", (leaf, index, size, proof[:-1], root)))
        probes.append(("first element removed", (leaf, index, size, proof[1:], root)))
        probes.append(
            ("extra element", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root))
        )
        probes.append(("31-byte element", (leaf, index, size, [proof[0][:-1], *proof[1:]], root)))
        probes.append(
            ("33-byte element", (leaf, index, size, [*proof[:-1], proof[-1] + b"!"], root))
        )
    if len(proof) > 1:
        swapped = [proof[1], proof[0], *proof[2:]]
        if swapped != proof:
            probes.append(("first two swapped", (leaf, index, size, swapped, root)))
    if proof and root != leaf:
        probes.append(("leaf and root swapped", (root, index, size, proof, leaf)))
    for i in range(len(proof)):
        for bit in (0, 3, 255):
            flipped = [*proof]
            flipped[i] = _flip(proof[i], bit)
            probes.append((f"proof[{i}] bit {bit} flipped", (leaf, index, size, flipped, root)))
    return probes


def consistency_probes(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[tuple[str, ConsistencyArgs]]:
    probes: list[tuple[str, ConsistencyArgs]] = [
        ("old_size - 1", (old_size - 1, new_size, old_root, new_root, proof)),
        ("old_size + 1", (old_size + 1, new_size, old_root, new_root, proof)),
        ("new_size * 2", (old_size, new_size * 2, old_root, new_root, proof)),
        ("new_size // 2", (old_size, new_size // 2, old_root, new_root, proof)),
        ("sizes swapped", (new_size, old_size, old_root, new_root, proof)),
        ("wrong old root", (old_size, new_size, SOME_HASH, new_root, proof)),
        ("wrong new root", (old_size, new_size, old_root, SOME_HASH, proof)),
        ("short old root", (old_size, new_size, b"WrongRoot", new_root, proof)),
        ("short new root", (old_size, new_size, old_root, b"WrongRoot", proof)),
        ("33-byte new root", (old_size, new_size, old_root, new_root + b"\x00", proof)),
        ("roots swapped", (old_size, new_size, new_root, old_root, proof)),
        ("empty proof", (old_size, new_size, old_root, new_root, [])),
        ("trailing empty element", (old_size, new_size, old_root, new_root, [*proof, b""])),
        ("trailing old root", (old_size, new_size, old_root, new_root, [*proof, old_root])),
        ("trailing new root", (old_size, new_size, old_root, new_root, [*proof, new_root])),
        ("leading empty element", (old_size, new_size, old_root, new_root, [b"", *proof])),
        ("leading old root", (old_size, new_size, old_root, new_root, [old_root, *proof])),
        ("leading new root", (old_size, new_size, old_root, new_root, [new_root, *proof])),
        ("proof[0] repeated", (old_size, new_size, old_root, new_root, [proof[0], *proof])),
        ("last element removed", (old_size, new_size, old_root, new_root, proof[:-1])),
        ("first element removed", (old_size, new_size, old_root, new_root, proof[1:])),
        ("31-byte element", (old_size, new_size, old_root, new_root, [proof[0][:-1], *proof[1:]])),
    ]
    if old_size ^ 2 != old_size:
        probes.append(("old_size ^ 2", (old_size ^ 2, new_size, old_root, new_root, proof)))
    if len(proof) > 1:
        swapped = [proof[1], proof[0], *proof[2:]]
        if swapped != proof:
            probes.append(("first two swapped", (old_size, new_size, old_root, new_root, swapped)))
    for i in range(len(proof)):
        for bit in (0, 4, 255):
            flipped = [*proof]
            flipped[i] = _flip(proof[i], bit)
            args = (old_size, new_size, old_root, new_root, flipped)
            probes.append((f"proof[{i}] bit {bit} flipped", args))
    return probes


def accepted_inclusion_probes(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> list[str]:
    return [
        d for d, args in inclusion_probes(leaf, index, size, proof, root) if verify_inclusion(*args)
    ]


def accepted_consistency_probes(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[str]:
    probes = consistency_probes(old_size, new_size, old_root, new_root, proof)
    return [d for d, args in probes if verify_consistency(*args)]


# ---------------------------------------------------------------------------
# Standalone module.
# ---------------------------------------------------------------------------


def test_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(PROOFCHECK_PATH.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports are not allowed"
            assert node.module is not None
            imported.add(node.module.split(".")[0])
    assert imported
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_leaf_hash_is_rfc6962_and_matches_the_project_copy() -> None:
    for data in [*LEAF_INPUTS, b"x" * 1000]:
        assert leaf_hash(data) == hashlib.sha256(b"\x00" + data).digest()
        assert leaf_hash(data) == merkle_leaf_hash(data)
    assert leaf_hash(b"") == ROOTS[1]


# ---------------------------------------------------------------------------
# Published vectors.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_published_inclusion_proof_verifies(index: int, size: int, proof: list[bytes]) -> None:
    assert verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_tampered_published_inclusion_proof_is_rejected(
    index: int, size: int, proof: list[bytes]
) -> None:
    assert accepted_inclusion_probes(LEAF_HASHES[index], index, size, proof, ROOTS[size]) == []


def test_real_ct_log_inclusion_proof_verifies() -> None:
    assert verify_inclusion(CT_LEAF_HASH, CT_LEAF_INDEX, CT_TREE_SIZE, CT_AUDIT_PATH, CT_ROOT)


def test_tampered_real_ct_log_inclusion_proof_is_rejected() -> None:
    probes = inclusion_probes(CT_LEAF_HASH, CT_LEAF_INDEX, CT_TREE_SIZE, CT_AUDIT_PATH, CT_ROOT)
    assert [d for d, args in probes if verify_inclusion(*args)] == []
    # merkle_test.py: index beyond the tree, and an all-zero root.
    too_far = CT_LEAF_INDEX + 2 ** (len(CT_AUDIT_PATH) + 1)
    assert not verify_inclusion(CT_LEAF_HASH, too_far, CT_TREE_SIZE, CT_AUDIT_PATH, CT_ROOT)
    assert not verify_inclusion(CT_LEAF_HASH, CT_LEAF_INDEX, CT_TREE_SIZE, CT_AUDIT_PATH, ZEROS)


def test_inclusion_proof_of_wrong_length_is_rejected() -> None:
    # merkle_test.py test_verify_leaf_inclusion_incorrect_length_proof
    ones = b"\x11" * 32
    assert not verify_inclusion(ones, 0, 4, [ZEROS, ZEROS, ZEROS], ZEROS)
    assert not verify_inclusion(ones, 0, 4, [ZEROS], ZEROS)


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CONSISTENCY_VECTORS)
def test_published_consistency_proof_verifies(
    old_size: int, new_size: int, proof: list[bytes]
) -> None:
    assert verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], proof)


@pytest.mark.parametrize(
    ("old_size", "new_size", "proof"), [v for v in CONSISTENCY_VECTORS if v[2]]
)
def test_tampered_published_consistency_proof_is_rejected(
    old_size: int, new_size: int, proof: list[bytes]
) -> None:
    old_root, new_root = ROOTS[old_size], ROOTS[new_size]
    assert accepted_consistency_probes(old_size, new_size, old_root, new_root, proof) == []


def test_published_bad_consistency_proofs_are_rejected() -> None:
    # google/certificate-transparency merkle_test.py: proof too short, a bit
    # flipped in the second root, in both roots, in the first root, and a
    # newer tree that is smaller.
    proof_6_8 = CONSISTENCY_VECTORS[2][2]
    root6, root8 = ROOTS[6], ROOTS[8]
    bad_root6 = h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ee")
    bad_root8 = h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604329")
    assert not verify_consistency(6, 8, root6, root8, proof_6_8[:2])
    assert not verify_consistency(6, 8, root6, bad_root8, proof_6_8)
    assert not verify_consistency(6, 8, bad_root6, bad_root8, proof_6_8)
    assert not verify_consistency(6, 8, bad_root6, root8, proof_6_8)
    assert not verify_consistency(5, 2, ROOTS[5], ROOTS[2], CONSISTENCY_VECTORS[3][2])


# ---------------------------------------------------------------------------
# Edge cases of the specification.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old_size", "new_size", "old_root", "new_root", "proof", "expected"),
    [
        # Equal sizes: empty proof and equal roots.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (1, 1, ROOTS[1], ROOTS[1], [], True),
        (5, 5, ROOTS[5], ROOTS[5], [], True),
        (1, 1, ROOTS[1], ROOTS[2], [], False),
        (1, 1, ROOTS[1], ROOTS[1], [ROOTS[1]], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 0, SOME_HASH, SOME_HASH, [], False),
        (0, 0, EMPTY_ROOT, SOME_HASH, [], False),
        (3, 3, b"abc", b"abc", [], False),
        # From the empty tree: empty proof and old root = SHA-256("").
        (0, 1, EMPTY_ROOT, ROOTS[1], [], True),
        (0, 8, EMPTY_ROOT, ROOTS[8], [], True),
        (0, 1, SOME_HASH, ROOTS[1], [], False),
        (0, 1, EMPTY_ROOT, ROOTS[1], [ROOTS[1]], False),
        (0, 1, EMPTY_ROOT, b"short", [], False),
        # Time travel to the past.
        (1, 0, ROOTS[1], EMPTY_ROOT, [], False),
        (2, 1, ROOTS[2], ROOTS[1], [], False),
        (8, 6, ROOTS[8], ROOTS[6], CONSISTENCY_VECTORS[2][2], False),
        # Different sizes need a non-empty proof.
        (1, 2, ROOTS[1], ROOTS[2], [], False),
        (4, 8, ROOTS[4], ROOTS[8], [], False),
    ],
)
def test_consistency_edge_cases(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: list[bytes],
    expected: bool,
) -> None:
    assert verify_consistency(old_size, new_size, old_root, new_root, proof) is expected


def test_single_leaf_tree_needs_leaf_equal_to_root() -> None:
    leaf = leaf_hash(b"data")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], SOME_HASH)
    assert not verify_inclusion(b"", 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")
    assert not verify_inclusion(leaf, 0, 1, [leaf], leaf)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (8, 8), (9, 8)])
def test_inclusion_with_index_not_below_size_is_rejected(index: int, size: int) -> None:
    for leaf, root in [
        (SOME_HASH, SOME_HASH),
        (SOME_HASH, EMPTY_ROOT),
        (ROOTS[1], ROOTS[size % 9]),
    ]:
        assert not verify_inclusion(leaf, index, size, [], root)


# ---------------------------------------------------------------------------
# Hostile values: always False, never an exception.
# ---------------------------------------------------------------------------

_GOOD_INCLUSION: InclusionArgs = (LEAF_HASHES[5], 5, 8, INCLUSION_VECTORS[6][2], ROOTS[8])
_GOOD_CONSISTENCY: ConsistencyArgs = (6, 8, ROOTS[6], ROOTS[8], CONSISTENCY_VECTORS[2][2])


def _replace(args: tuple[Any, ...], position: int, value: Any) -> tuple[Any, ...]:
    return (*args[:position], value, *args[position + 1 :])


@pytest.mark.parametrize(
    ("position", "value"),
    [
        (0, "6e" * 32),  # hex text instead of bytes
        (0, None),
        (1, -1),
        (1, True),
        (1, 5.0),
        (1, 2**80),
        (2, -8),
        (2, 2**80),
        (3, None),
        (3, b"".join(INCLUSION_VECTORS[6][2])),  # one flat bytes object
        (3, "proof"),
        (3, [p.hex() for p in INCLUSION_VECTORS[6][2]]),
        (3, [*INCLUSION_VECTORS[6][2][:2], None]),
        (3, [SOME_HASH] * 100_000),
        (4, None),
        (4, 12345),
    ],
)
def test_hostile_inclusion_arguments_return_false(position: int, value: Any) -> None:
    assert verify_inclusion(*_GOOD_INCLUSION)
    assert verify_inclusion(*_replace(_GOOD_INCLUSION, position, value)) is False


@pytest.mark.parametrize(
    ("position", "value"),
    [
        (0, -6),
        (0, False),
        (1, 2**70),
        (1, -8),
        (1, "8"),
        (2, None),
        (2, ROOTS[6].hex()),
        (3, bytearray(31)),
        (4, None),
        (4, b"".join(CONSISTENCY_VECTORS[2][2])),
        (4, [p.hex() for p in CONSISTENCY_VECTORS[2][2]]),
        (4, [*CONSISTENCY_VECTORS[2][2], SOME_HASH]),
        (4, [SOME_HASH] * 100_000),
    ],
)
def test_hostile_consistency_arguments_return_false(position: int, value: Any) -> None:
    assert verify_consistency(*_GOOD_CONSISTENCY)
    assert verify_consistency(*_replace(_GOOD_CONSISTENCY, position, value)) is False


def test_bytearray_and_tuple_inputs_are_accepted() -> None:
    leaf, index, size, proof, root = _GOOD_INCLUSION
    mutable_leaf: Any = bytearray(leaf)
    mutable_proof: Any = tuple(bytearray(p) for p in proof)
    assert verify_inclusion(mutable_leaf, index, size, mutable_proof, root)
    old, new, old_root, new_root, cproof = _GOOD_CONSISTENCY
    mutable_root: Any = bytearray(old_root)
    assert verify_consistency(old, new, mutable_root, new_root, tuple(cproof))


_hash32 = st.binary(min_size=32, max_size=32)
_any_hash = st.one_of(_hash32, st.binary(max_size=40))


@settings(max_examples=300, deadline=None)
@given(
    leaf=_any_hash,
    index=st.integers(-3, 300),
    size=st.integers(-3, 300),
    proof=st.lists(_any_hash, max_size=12),
    root=_any_hash,
)
def test_random_inclusion_input_never_raises_and_only_trivial_proofs_pass(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    trivial = index == 0 and size == 1 and not proof and len(leaf) == 32 and leaf == root
    assert verify_inclusion(leaf, index, size, proof, root) is trivial


@settings(max_examples=300, deadline=None)
@given(
    old_size=st.integers(-3, 300),
    new_size=st.integers(-3, 300),
    old_root=st.one_of(_any_hash, st.just(EMPTY_ROOT)),
    new_root=_any_hash,
    proof=st.lists(_any_hash, max_size=12),
)
def test_random_consistency_input_never_raises_and_only_trivial_proofs_pass(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    ok_roots = len(old_root) == 32 and len(new_root) == 32
    same = 0 < old_size == new_size and old_root == new_root
    from_empty = old_size == 0 <= new_size and old_root == EMPTY_ROOT
    from_empty = from_empty and (new_size > 0 or new_root == EMPTY_ROOT)
    trivial = ok_roots and not proof and (same or from_empty)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof) is trivial


# ---------------------------------------------------------------------------
# Generated trees: every honest proof verifies, every tampered one fails.
# ---------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300))
def test_every_generated_inclusion_proof_verifies(size: int) -> None:
    leaves = _leaves(size)
    root = root_from_leaf_hashes(leaves)
    for i in range(size):
        proof = inclusion_proof(leaves, i, size)
        assert len(proof) <= (size - 1).bit_length()
        assert verify_inclusion(leaves[i], i, size, proof, root)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(1, 300))
def test_every_sampled_generated_consistency_proof_verifies(
    data: st.DataObject, new_size: int
) -> None:
    leaves = _leaves(new_size)
    new_root = root_from_leaf_hashes(leaves)
    olds = data.draw(st.lists(st.integers(0, new_size), min_size=1, max_size=25))
    for m in {*olds, 0, 1, new_size}:
        proof = consistency_proof(leaves, m, new_size)
        assert len(proof) <= (new_size - 1).bit_length() + 1
        old_root = root_from_leaf_hashes(leaves[:m])
        assert verify_consistency(m, new_size, old_root, new_root, proof)


def test_every_consistency_proof_up_to_size_32_verifies_and_resists_tampering() -> None:
    leaves = _leaves(32)
    roots = [root_from_leaf_hashes(leaves[:n]) for n in range(33)]
    for n in range(1, 33):
        for m in range(1, n + 1):
            proof = consistency_proof(leaves, m, n)
            assert verify_consistency(m, n, roots[m], roots[n], proof)
            if m < n:
                assert accepted_consistency_probes(m, n, roots[m], roots[n], proof) == []


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(1, 300))
def test_tampered_generated_inclusion_proofs_are_rejected(data: st.DataObject, size: int) -> None:
    leaves = _leaves(size)
    root = root_from_leaf_hashes(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(leaves, index, size)
    assert accepted_inclusion_probes(leaves[index], index, size, proof, root) == []


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(2, 300))
def test_tampered_generated_consistency_proofs_are_rejected(
    data: st.DataObject, new_size: int
) -> None:
    leaves = _leaves(new_size)
    old_size = data.draw(st.integers(1, new_size - 1))
    old_root = root_from_leaf_hashes(leaves[:old_size])
    new_root = root_from_leaf_hashes(leaves)
    proof = consistency_proof(leaves, old_size, new_size)
    assert accepted_consistency_probes(old_size, new_size, old_root, new_root, proof) == []


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(2, 200))
def test_rewritten_history_is_never_consistent(data: st.DataObject, new_size: int) -> None:
    # The failure mode of GHSA-672p-m5jq-mrh8: a log shows one history to an
    # old checkpoint and another one later. Any change to a leaf below
    # old_size must break consistency, whichever tree the proof comes from.
    old_size = data.draw(st.integers(1, new_size - 1))
    changed = data.draw(st.integers(0, old_size - 1))
    honest = _leaves(new_size)
    forked = [*honest]
    forked[changed] = merkle_leaf_hash(b"rewritten")
    for old_leaves, new_leaves in [(forked, honest), (honest, forked)]:
        old_root = root_from_leaf_hashes(old_leaves[:old_size])
        new_root = root_from_leaf_hashes(new_leaves)
        for source in (old_leaves, new_leaves):
            proof = consistency_proof(source, old_size, new_size)
            assert not verify_consistency(old_size, new_size, old_root, new_root, proof)


# ---------------------------------------------------------------------------
# Command line interface.
# ---------------------------------------------------------------------------


def _inclusion_doc() -> dict[str, Any]:
    return {
        "leaf_hash": CT_LEAF_HASH.hex(),
        "index": CT_LEAF_INDEX,
        "tree_size": CT_TREE_SIZE,
        "proof": [p.hex() for p in CT_AUDIT_PATH],
        "root_hash": CT_ROOT.hex(),
    }


def _consistency_doc() -> dict[str, Any]:
    return {
        "old_size": 6,
        "new_size": 8,
        "old_root": ROOTS[6].hex(),
        "new_root": ROOTS[8].hex(),
        "proof": [p.hex() for p in CONSISTENCY_VECTORS[2][2]],
    }


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    def run(kind: str, doc: Any, *, raw: str | None = None) -> subprocess.CompletedProcess[str]:
        path = tmp_path / f"{kind}.json"
        path.write_text(raw if raw is not None else json.dumps(doc), encoding="utf-8")
        return subprocess.run(
            [sys.executable, "-m", "replay.proofcheck", kind, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=PROOFCHECK_PATH.parent.parent,
            check=False,
        )

    return run


def test_cli_accepts_good_inclusion_and_consistency_proofs(run_cli: RunCli) -> None:
    for kind, doc in [("inclusion", _inclusion_doc()), ("consistency", _consistency_doc())]:
        result = run_cli(kind, doc)
        assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "OK", "")


@pytest.mark.parametrize(
    ("kind", "field", "value", "reason"),
    [
        ("inclusion", "root_hash", "00" * 32, "does not lead to root_hash"),
        ("inclusion", "index", CT_LEAF_INDEX + 1, "does not lead to root_hash"),
        ("inclusion", "index", CT_TREE_SIZE, "not less than tree_size"),
        ("inclusion", "leaf_hash", "ab" * 31, "leaf_hash is 31 bytes"),
        ("inclusion", "proof", [p.hex() for p in CT_AUDIT_PATH[:-1]], "proof has 21 hashes"),
        ("consistency", "new_root", ROOTS[7].hex(), "does not link old_root to new_root"),
        ("consistency", "old_size", 9, "larger than new_size"),
        ("consistency", "proof", [], "does not link"),
        ("consistency", "proof", ["00"], "proof[0] is 1 bytes"),
    ],
)
def test_cli_reports_a_tampered_proof_with_exit_status_1(
    run_cli: RunCli, kind: str, field: str, value: Any, reason: str
) -> None:
    doc = _inclusion_doc() if kind == "inclusion" else _consistency_doc()
    doc[field] = value
    result = run_cli(kind, doc)
    assert result.returncode == 1, result
    assert result.stdout.startswith("FAILED: ")
    assert reason in result.stdout


def test_cli_flags_a_single_flipped_bit_in_a_proof_file(run_cli: RunCli) -> None:
    doc = _inclusion_doc()
    doc["proof"][10] = _flip(CT_AUDIT_PATH[10], 77).hex()
    assert run_cli("inclusion", doc).returncode == 1


@pytest.mark.parametrize(
    ("kind", "doc", "raw", "message"),
    [
        ("inclusion", None, "{not json", "not valid JSON"),
        ("inclusion", None, "[1, 2]", "must be an object"),
        ("inclusion", None, '{"index": 1, "index": 2}', "duplicate key"),
        ("inclusion", {k: v for k, v in _inclusion_doc().items() if k != "proof"}, None, "'proof'"),
        ("inclusion", {**_inclusion_doc(), "index": "848049"}, None, "'index'"),
        ("inclusion", {**_inclusion_doc(), "index": -1}, None, "'index'"),
        ("inclusion", {**_inclusion_doc(), "tree_size": True}, None, "'tree_size'"),
        ("inclusion", {**_inclusion_doc(), "root_hash": "xyz"}, None, "'root_hash'"),
        ("inclusion", {**_inclusion_doc(), "leaf_hash": "abc"}, None, "'leaf_hash'"),
        ("inclusion", {**_inclusion_doc(), "proof": "00"}, None, "'proof'"),
        ("consistency", {**_consistency_doc(), "proof": [1]}, None, "proof[0]"),
        ("consistency", {**_consistency_doc(), "old_size": 6.0}, None, "'old_size'"),
        ("consistency", _inclusion_doc(), None, "missing field"),
    ],
)
def test_cli_rejects_malformed_input_with_exit_status_2(
    run_cli: RunCli, kind: str, doc: Any, raw: str | None, message: str
) -> None:
    result = run_cli(kind, doc, raw=raw)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "malformed input" in result.stderr
    assert message in result.stderr


def test_cli_rejects_missing_file_and_bad_usage_with_exit_status_2(tmp_path: Path) -> None:
    for args in (["inclusion", str(tmp_path / "absent.json")], ["frobnicate", "x.json"], []):
        result = subprocess.run(
            [sys.executable, "-m", "replay.proofcheck", *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=PROOFCHECK_PATH.parent.parent,
            check=False,
        )
        assert result.returncode == 2, result
        assert result.stderr


def test_copied_file_runs_without_the_project_or_site_packages(tmp_path: Path) -> None:
    copy = tmp_path / "proofcheck.py"
    shutil.copyfile(PROOFCHECK_PATH, copy)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_consistency_doc()), encoding="utf-8")
    bad_doc = _consistency_doc()
    bad_doc["proof"] = list(reversed(bad_doc["proof"]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_doc), encoding="utf-8")
    codes = []
    for path in (good, bad):
        # -I: ignore PYTHON* variables and the user site; -S: no site-packages.
        result = subprocess.run(
            [sys.executable, "-I", "-S", str(copy), "consistency", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            check=False,
        )
        codes.append(result.returncode)
    assert codes == [0, 1]


def test_main_can_be_called_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_inclusion_doc()), encoding="utf-8")
    assert proofcheck.main(["inclusion", str(path)]) == 0
    assert capsys.readouterr().out == "OK\n"
