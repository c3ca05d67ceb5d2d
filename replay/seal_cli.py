"""Tamper evidence on the command line: ``seal``, ``checkpoint``, ``public-key``, ``verify``,
``proof inclusion|consistency``, ``export events`` and ``import events``.

``register(commands)`` adds them to ``dialogue-ledger`` (see ``ledger.cli.EXTENSIONS``). Exit
status: 0 done and verified; 1 verification failed (the store does not match its seal or a
checkpoint, or a proof does not verify) or the store cannot be reached; 2 bad input (an
unreadable checkpoint file, a position with no event, an import into a store that is not
empty). See ``docs/tamper-evidence.md``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from tqdm import tqdm

from ledger.application import DialogueLedger
from ledger.cli import positive_int
from ledger.config import describe, private_file, store_env
from ledger.errors import InvalidInput
from replay import seal as sealing
from replay.seal import Checkpoint, VerificationFailed

Handler = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK = 0
EXIT_FAILED = 1


# ===================================================================================
# Registration
# ===================================================================================
def register(commands: SubParsers) -> None:
    """Add the tamper-evidence subcommands to the ``dialogue-ledger`` parser."""
    p = commands.add_parser(
        "seal", help="seal new events into the ledger's Merkle tree",
        description="Append the leaves of every event recorded since the last seal to the "
                    "RFC 6962 Merkle tree kept in the store (checkpoint does this too).")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=cmd_seal)

    p = commands.add_parser(
        "checkpoint", help="seal, then record and write a signed checkpoint",
        description="Seal the ledger, sign a checkpoint (tree size, root hash, time, key id) "
                    "with the Ed25519 key in $LEDGER_SIGNING_KEY (default "
                    f"./{sealing.DEFAULT_KEY_FILE}, created 0600 on first use), record it in "
                    "the store and write it as JSON, with the public key, to keep elsewhere.",
        epilog="--out may hold {id}, {tree_size} and {time} (e.g. "
               "'checkpoints/cp-{id}.json'), so that a --every loop keeps each checkpoint.")
    p.add_argument("--out", metavar="FILE", help="write the checkpoint here (default: stdout)")
    p.add_argument("--every", type=_positive_float, metavar="SECONDS",
                   help="keep taking checkpoints, one every SECONDS")
    p.add_argument("--count", type=positive_int, metavar="N",
                   help="with --every: stop after N checkpoints (default: until interrupted)")
    p.add_argument("--quiet", action="store_true", help="no summary")
    p.set_defaults(handler=cmd_checkpoint)

    p = commands.add_parser(
        "public-key", help="print the checkpoint signing key's public key (PEM)",
        description="Print (or write) the public key of the signing key in $LEDGER_SIGNING_KEY, "
                    "to publish for auditors. The key is not created by this command.")
    p.add_argument("--out", metavar="FILE", help="write it here (default: stdout)")
    p.set_defaults(handler=cmd_public_key)

    p = commands.add_parser(
        "verify", help="check the whole store against its seal and checkpoints",
        description="Recompute every leaf from the stored events and check (a) the seal's leaf "
                    "table entry by entry, (b) the root at every recorded checkpoint and their "
                    "signatures, (c) each --checkpoint FILE kept outside the store, which "
                    "catches rewritten or truncated seal tables. Lists every failing entry and "
                    "exits 1 if any fails.")
    p.add_argument("--checkpoint", action="append", default=[], metavar="FILE",
                   help="a checkpoint kept elsewhere (repeatable)")
    _trust_option(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_verify)

    proofs = commands.add_parser(
        "proof", help="RFC 9162 proofs for auditors to check offline",
        description="Write proofs in the JSON that 'python -m replay.proofcheck' checks "
                    "offline. Proofs are computed from the events as stored now.",
    ).add_subparsers(dest="proof", required=True, metavar="KIND")
    p = proofs.add_parser(
        "inclusion", help="prove that one event is in a checkpoint's tree",
        description="An inclusion proof for the event at --position in the tree of --checkpoint "
                    "FILE (default: the latest checkpoint recorded in the store).")
    p.add_argument("--position", type=positive_int, required=True, metavar="N")
    p.add_argument("--checkpoint", metavar="FILE", help="a checkpoint JSON file")
    p.add_argument("--out", metavar="FILE", help="write the proof here (default: stdout)")
    _trust_option(p)
    p.set_defaults(handler=cmd_proof_inclusion)
    p = proofs.add_parser(
        "consistency", help="prove that an older checkpoint's tree is a prefix of a newer one",
        description="A consistency proof from --from FILE to --to FILE (default: the latest "
                    "checkpoint recorded in the store).")
    p.add_argument("--from", dest="old", required=True, metavar="FILE")
    p.add_argument("--to", dest="new", metavar="FILE")
    p.add_argument("--out", metavar="FILE", help="write the proof here (default: stdout)")
    _trust_option(p)
    p.set_defaults(handler=cmd_proof_consistency)

    p = export_group(commands).add_parser(
        "events", help="the event log as JSON Lines, one stored event a line",
        description="Write every stored event in position order: position, originator_id, "
                    "originator_version, topic and the stored state, as embedded JSON "
                    "('state') when that reproduces the bytes exactly, else base64 "
                    "('state_b64'). Streams; a progress bar goes to stderr.")
    p.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    p.add_argument("--redact-credentials", action="store_true",
                   help="leave out the credential fields of API tokens issued by older "
                        "versions (digest, label), as the auditors' export over HTTP does; "
                        "such an export verifies (each redacted event carries its leaf hash) "
                        "but cannot be imported")
    p.set_defaults(handler=cmd_export_events)

    imports = _group(commands, "import", "import into an empty store")
    p = imports.add_parser(
        "events", help="import an event log exported by 'export events'",
        description="Insert the events of FILE ('-' for stdin) into the store, which must hold "
                    "no events, at their exported positions. Sealing the imported store gives "
                    "the same roots as the original's.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_import_events)


def export_group(commands: SubParsers) -> SubParsers:
    """The ``export`` command's subcommands, made here unless another extension made them."""
    return _group(commands, "export", "export the ledger's records")


def _group(commands: SubParsers, name: str, help_text: str) -> SubParsers:
    existing = commands.choices.get(name)
    if existing is not None:
        for action in existing._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
        raise RuntimeError(f"the '{name}' command has no subcommands to add to")
    return commands.add_parser(name, help=help_text).add_subparsers(
        dest=f"{name}_what", required=True, metavar="WHAT")


def _trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--public-key", action="append", metavar="FILE",
        help="trust only checkpoints signed by this key (PEM; repeatable; default: the key "
             "in $LEDGER_SIGNING_KEY if the file exists)")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


# ===================================================================================
# Helpers
# ===================================================================================
def _handles_failure(handler: Handler) -> Handler:
    """Verification failures exit 1 with their message (other ledger errors exit 2)."""
    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except VerificationFailed as failure:
            print(f"dialogue-ledger: {failure.code}: {failure.message}", file=sys.stderr)
            return EXIT_FAILED
    return run


@contextmanager
def _ledger() -> Iterator[DialogueLedger]:
    app = DialogueLedger(store_env())
    try:
        yield app
    finally:
        app.close()


@contextmanager
def _output(path: str | None) -> Iterator[IO[bytes]]:
    """stdout, or ``path`` written as ``path.part`` and renamed once complete."""
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    part = target.with_name(target.name + ".part")
    try:
        f = private_file(part, "wb")
    except OSError as error:
        raise InvalidInput(f"cannot write {path}: {error.strerror}") from None
    try:
        with f:
            yield f
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _write_json(doc: dict[str, Any], path: str | None) -> None:
    with _output(path) as out:
        out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")


def _trusted(args: argparse.Namespace) -> set[str] | None:
    files: list[str] | None = args.public_key
    if not files:
        return None  # the library's default: the local signing key, if there is one
    return {sealing.key_id_of(sealing.load_public_key(f)) for f in files}


def _say(message: str) -> None:
    print(message, file=sys.stderr)


# ===================================================================================
# Commands
# ===================================================================================
def cmd_seal(args: argparse.Namespace) -> int:
    with _ledger() as app:
        result = sealing.seal(app)
    if not args.quiet:
        print(f"Sealed {result.added} new events: the tree holds {result.tree_size} leaves "
              f"(up to position {result.last_position}), root {result.root_hash.hex()}.")
    return EXIT_OK


def _load_key() -> Any:
    path = sealing.signing_key_path()
    key, created = sealing.load_signing_key(path)
    if created:
        kid = sealing.key_id_of(key.public_key().public_bytes_raw())
        _say(f"Created a new Ed25519 signing key in {path} (readable by you only, 0600), "
             f"key id {kid}. Keep it safe and away from the database, and publish its public "
             "key ('dialogue-ledger public-key') for auditors.")
    return key


def _checkpoint_path(pattern: str | None, cp: Checkpoint) -> str | None:
    if pattern is None:
        return None
    moment = cp.timestamp.split(".")[0].replace("-", "").replace(":", "") + "Z"
    try:
        return pattern.format(id=cp.id, tree_size=cp.tree_size, time=moment)
    except (KeyError, IndexError, ValueError) as error:
        raise InvalidInput(f"--out: only {{id}}, {{tree_size}} and {{time}} may be used "
                           f"({error})") from None


def cmd_checkpoint(args: argparse.Namespace) -> int:
    if args.count is not None and args.every is None:
        raise InvalidInput("--count goes with --every")
    key = _load_key()
    taken = 0
    with _ledger() as app:
        try:
            while True:
                cp = sealing.checkpoint(app, key)
                path = _checkpoint_path(args.out, cp)
                _write_json(cp.to_json(), path)
                taken += 1
                if not args.quiet and path is not None:
                    print(f"Checkpoint #{cp.id}: {cp.tree_size} events (up to position "
                          f"{cp.last_position}), root {cp.root_hash.hex()}, signed "
                          f"{cp.timestamp} by key {cp.key_id}; written to {path}.", flush=True)
                if args.every is None or (args.count is not None and taken >= args.count):
                    break
                time.sleep(args.every)
        except KeyboardInterrupt:
            if not args.quiet:
                _say(f"Stopped after {taken} checkpoints.")
    return EXIT_OK


def cmd_public_key(args: argparse.Namespace) -> int:
    key, _ = sealing.load_signing_key(create=False)
    with _output(args.out) as out:
        out.write(sealing.public_key_pem(key).encode())
    if args.out:
        print(f"Public key {sealing.key_id_of(key.public_key().public_bytes_raw())} "
              f"written to {args.out}.")
    return EXIT_OK


@_handles_failure
def cmd_verify(args: argparse.Namespace) -> int:
    external = [Checkpoint.load(path) for path in args.checkpoint]
    trusted = _trusted(args)
    with _ledger() as app, tqdm(total=app.position, unit="ev", desc="verifying",
                                file=sys.stderr, disable=args.quiet, leave=False) as bar:
        report = sealing.verify(app, external, trusted_keys=trusted, progress=bar.update)
    if args.format == "json":
        sys.stdout.write(orjson.dumps({
            "ok": report.ok, "events": report.events, "tree_size": report.tree_size,
            "sealed_position": report.sealed_position, "unsealed": report.unsealed,
            "checkpoints": report.checkpoints, "external_checkpoints": report.external,
            "notes": report.notes,
            "failures": [f.__dict__ for f in report.failures],
        }, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK if report.ok else EXIT_FAILED
    for note in report.notes:
        print(f"note: {note}")
    summary = (f"{report.events} events, {report.tree_size} sealed leaves (up to position "
               f"{report.sealed_position}), {report.checkpoints} recorded checkpoints, "
               f"{report.external} kept elsewhere")
    if report.ok:
        print(f"OK: {summary}: every entry matches."
              + (f" {report.unsealed} newer events are not sealed yet."
                 if report.unsealed else ""))
        return EXIT_OK
    grouped = report.grouped()
    print(f"FAILED: {summary}: {len(report.failures)} failures:")
    for failure in grouped:
        print(f"  {failure}")
    return EXIT_FAILED


def _default_checkpoint(app: DialogueLedger, path: str | None, option: str) -> Checkpoint:
    if path is not None:
        return Checkpoint.load(path)
    latest = sealing.latest_checkpoint(app)
    if latest is None:
        raise sealing.SealError(f"the store has no checkpoint yet: run 'dialogue-ledger "
                                f"checkpoint' or give {option} FILE")
    return latest


def _write_proof(doc: dict[str, Any], ok: bool, path: str | None, kind: str) -> int:
    _write_json(doc, path)
    if not ok:
        _say(f"dialogue-ledger: verification-failed: the {kind} proof does not verify: the "
             "stored events differ from the checkpoint's tree")
        return EXIT_FAILED
    if path is not None:
        print(f"Wrote the {kind} proof to {path}; check it with "
              f"'python -m replay.proofcheck {kind} {path}'.")
    return EXIT_OK


@_handles_failure
def cmd_proof_inclusion(args: argparse.Namespace) -> int:
    trusted = _trusted(args)
    with _ledger() as app:
        cp = _default_checkpoint(app, args.checkpoint, "--checkpoint")
        doc, ok = sealing.inclusion_proof_document(app, args.position, cp,
                                                   trusted_keys=trusted)
    return _write_proof(doc, ok, args.out, "inclusion")


@_handles_failure
def cmd_proof_consistency(args: argparse.Namespace) -> int:
    trusted = _trusted(args)
    old = Checkpoint.load(args.old)
    with _ledger() as app:
        new = _default_checkpoint(app, args.new, "--to")
        doc, ok = sealing.consistency_proof_document(app, old, new, trusted_keys=trusted)
    return _write_proof(doc, ok, args.out, "consistency")


def cmd_export_events(args: argparse.Namespace) -> int:
    env = store_env()
    app = DialogueLedger(env)
    try:
        with _output(args.out) as out, tqdm(total=app.position, unit="ev", desc="exporting",
                                            file=sys.stderr, disable=args.quiet) as bar:
            count = sealing.export_events(app, out, progress=bar.update,
                                          redact_credentials=args.redact_credentials)
    finally:
        app.close()
    if not args.quiet:
        _say(f"Exported {count} events from {describe(env)}"
             + (f" to {args.out}." if args.out else "."))
    return EXIT_OK


def cmd_import_events(args: argparse.Namespace) -> int:
    env = store_env()
    if args.file == "-":
        source: IO[bytes] = sys.stdin.buffer
        total = None
    else:
        try:
            source = open(args.file, "rb")  # noqa: SIM115 - closed below
        except OSError as error:
            raise InvalidInput(f"cannot read {args.file}: {error.strerror}") from None
        total = os.fstat(source.fileno()).st_size
    app = DialogueLedger(env)
    try:
        sealing.ensure_empty(app)
        with tqdm(total=total, unit="B", unit_scale=True, desc="importing", file=sys.stderr,
                  disable=args.quiet) as bar:
            result = sealing.import_events(app, source, progress=bar.update)
    finally:
        app.close()
        if source is not sys.stdin.buffer:
            source.close()
    span = (f" (positions {result.first_position}..{result.last_position})"
            if result.events else "")
    print(f"Imported {result.events} events{span} into {describe(env)}. "
          "Run 'dialogue-ledger checkpoint' to seal them.")
    return EXIT_OK
