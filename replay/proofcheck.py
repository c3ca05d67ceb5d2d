"""Standalone offline verifier for RFC 6962 / RFC 9162 Merkle proofs (SHA-256).

This file depends only on the Python standard library and can be copied and
run on its own::

    python proofcheck.py inclusion proof.json
    python proofcheck.py consistency proof.json

(or ``python -m replay.proofcheck ...`` inside the project). Hashes in the JSON
files are hex strings:

* inclusion: ``{"leaf_hash", "index", "tree_size", "proof": [...], "root_hash"}``
* consistency: ``{"old_size", "new_size", "old_root", "new_root", "proof": [...]}``

It prints ``OK`` and exits 0 when the proof verifies, prints ``FAILED: reason``
and exits 1 when it does not, and exits 2 with a message on stderr when the
input is malformed.

The verification functions return ``False`` for any hostile or malformed value
(wrong sizes, wrong hash lengths, proofs too long or too short) and never
raise on such values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "leaf_hash", "main", "verify_consistency", "verify_inclusion"]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_MALFORMED = 2


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _hashes(proof: object, max_len: int) -> list[bytes] | None:
    """Return ``proof`` as a list of 32-byte hashes, or None if it is not one."""
    if not isinstance(proof, Iterable) or isinstance(proof, str | bytes | bytearray):
        return None
    items = list(proof)
    if len(items) > max_len or not all(_is_hash(p) for p in items):
        return None
    return [bytes(p) for p in items]


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Return True iff ``proof`` shows leaf ``index`` of a ``size``-leaf tree has ``leaf_hash``.

    Implements RFC 9162 section 2.1.3.2 with ``root`` as the tree's root hash.
    Take ``size`` and ``root`` from the same trusted tree head: the same proof
    and root can also verify for a neighbouring size.
    """
    if not (_is_size(index) and _is_size(size)) or index >= size:
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root)):
        return False
    path = _hashes(proof, (size - 1).bit_length())
    if path is None:
        return False

    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Return True iff ``proof`` shows the ``old_size`` tree is a prefix of the ``new_size`` one.

    Implements RFC 9162 section 2.1.4.2 for ``0 < old_size < new_size``. Equal
    sizes need an empty proof and equal roots. ``old_size == 0`` needs an empty
    proof and ``old_root`` equal to the empty-tree hash, ``SHA-256("")``.
    As with inclusion, each size must come from the same trusted tree head as
    its root.
    """
    if not (_is_size(old_size) and _is_size(new_size)) or old_size > new_size:
        return False
    if not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    path = _hashes(proof, max(new_size - 1, 0).bit_length() + 1)
    if path is None:
        return False

    if old_size == 0:
        return not path and old_root == EMPTY_ROOT and (new_size > 0 or new_root == EMPTY_ROOT)
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:
        return False

    if old_size & (old_size - 1) == 0:  # old_size is an exact power of two
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --------------------------------------------------------------------------- CLI


class MalformedInput(Exception):
    """The proof file cannot be read or does not have the expected shape."""


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedInput(f"duplicate key {key!r}")
        result[key] = value
    return result


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f, object_pairs_hook=_no_duplicate_keys)
    except OSError as e:
        raise MalformedInput(f"cannot read {path}: {e.strerror or e}") from e
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bad UTF-8
        raise MalformedInput(f"{path} is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise MalformedInput("the JSON document must be an object")
    return doc


def _field(doc: dict[str, Any], key: str) -> Any:
    if key not in doc:
        raise MalformedInput(f"missing field {key!r}")
    return doc[key]


def _int_field(doc: dict[str, Any], key: str) -> int:
    value = _field(doc, key)
    if not _is_size(value):
        raise MalformedInput(f"field {key!r} must be a non-negative integer")
    return int(value)


def _hex(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise MalformedInput(f"{what} must be a hex string with an even number of digits")
    return bytes.fromhex(value)


def _hex_field(doc: dict[str, Any], key: str) -> bytes:
    return _hex(_field(doc, key), f"field {key!r}")


def _proof_field(doc: dict[str, Any]) -> list[bytes]:
    value = _field(doc, "proof")
    if not isinstance(value, list):
        raise MalformedInput("field 'proof' must be a list of hex strings")
    return [_hex(item, f"proof[{i}]") for i, item in enumerate(value)]


def _bad_lengths(named: dict[str, bytes], proof: list[bytes]) -> str | None:
    for name, value in named.items():
        if len(value) != HASH_SIZE:
            return f"{name} is {len(value)} bytes, expected {HASH_SIZE}"
    for i, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            return f"proof[{i}] is {len(value)} bytes, expected {HASH_SIZE}"
    return None


def _check_inclusion(doc: dict[str, Any]) -> str | None:
    leaf = _hex_field(doc, "leaf_hash")
    index = _int_field(doc, "index")
    size = _int_field(doc, "tree_size")
    proof = _proof_field(doc)
    root = _hex_field(doc, "root_hash")
    if index >= size:
        return f"index {index} is not less than tree_size {size}"
    bad = _bad_lengths({"leaf_hash": leaf, "root_hash": root}, proof)
    if bad:
        return bad
    if verify_inclusion(leaf, index, size, proof, root):
        return None
    expected = _inclusion_proof_length(index, size)
    if len(proof) != expected:
        return f"proof has {len(proof)} hashes, a tree of this size needs {expected}"
    return "the proof does not lead to root_hash"


def _inclusion_proof_length(index: int, size: int) -> int:
    """Return how many hashes an inclusion proof for ``index < size`` has."""
    # Below the level where the paths to ``index`` and ``size - 1`` meet, every
    # level has a sibling; above it, only levels where ``index`` is a right child.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _check_consistency(doc: dict[str, Any]) -> str | None:
    old_size = _int_field(doc, "old_size")
    new_size = _int_field(doc, "new_size")
    old_root = _hex_field(doc, "old_root")
    new_root = _hex_field(doc, "new_root")
    proof = _proof_field(doc)
    if old_size > new_size:
        return f"old_size {old_size} is larger than new_size {new_size}"
    bad = _bad_lengths({"old_root": old_root, "new_root": new_root}, proof)
    if bad:
        return bad
    if verify_consistency(old_size, new_size, old_root, new_root, proof):
        return None
    if old_size == 0:
        return "from an empty tree the proof must be empty and old_root must be SHA-256('')"
    if old_size == new_size:
        return "for equal sizes the proof must be empty and the roots equal"
    return "the proof does not link old_root to new_root"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line verifier and return its exit status."""
    parser = argparse.ArgumentParser(
        prog="proofcheck",
        description="Verify an RFC 9162 Merkle inclusion or consistency proof offline.",
        epilog="Exit status: 0 verified, 1 not verified, 2 malformed input.",
    )
    sub = parser.add_subparsers(dest="kind", required=True, metavar="{inclusion,consistency}")
    sub.add_parser(
        "inclusion",
        help="check that a leaf hash is in a tree",
        description='FILE holds {"leaf_hash", "index", "tree_size", "proof", "root_hash"}.',
    ).add_argument("file", metavar="FILE.json")
    sub.add_parser(
        "consistency",
        help="check that an older tree is a prefix of a newer one",
        description='FILE holds {"old_size", "new_size", "old_root", "new_root", "proof"}.',
    ).add_argument("file", metavar="FILE.json")
    args = parser.parse_args(argv)

    check = _check_inclusion if args.kind == "inclusion" else _check_consistency
    try:
        reason = check(_load(args.file))
    except MalformedInput as e:
        print(f"proofcheck: malformed input: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    if reason is None:
        print("OK")
        return EXIT_OK
    print(f"FAILED: {reason}")
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
