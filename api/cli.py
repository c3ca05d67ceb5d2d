"""``dialogue-ledger serve`` and ``dialogue-ledger token``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

from ledger.application import DialogueLedger
from ledger.config import describe, store_env

#: Seconds a stopping server waits for its open connections (requests under way, event
#: streams) before it closes them; then the app stops its command process (at most
#: ``api.commands.STOP_GRACE`` seconds more): well within a 10-second grace period.
CONNECTIONS_GRACE = 2

DEMO_TOKENS = (("maya", "representative"), ("lena", "moderator"), ("ruth", "member"),
               ("ines", "auditor"))


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve the HTTP API on the configured store")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true",
                       help="record the demo if the store is empty, and print ready tokens "
                            "(one per role) and curl lines to try")
    serve.add_argument("--workers", type=int, default=1,
                       help="API processes (uvicorn workers) sharing the port")
    serve.add_argument("--projector", choices=("in-process", "none"), default=None,
                       help="in-process: this server keeps the views current (the default "
                            "with one worker); none: a separate `dialogue-ledger project` "
                            "does (the default with several workers)")
    serve.add_argument("--log-level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(handler=cmd_serve)

    token = commands.add_parser("token", help="API tokens")
    tokens = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = tokens.add_parser("create", help="issue a token for a person (shown once)")
    create.add_argument("--person", required=True, help="the person's handle or id")
    create.add_argument("--role", required=True,
                        choices=("member", "representative", "moderator", "auditor"))
    create.add_argument("--label", default="",
                        help="a note on what the token is for (kept with the credential, "
                             "not in the exported record)")
    create.add_argument("--expires", metavar="WHEN",
                        help="when the token stops working: a duration from now (90m, 12h, "
                             "30d, 8w) or an ISO 8601 time with a time zone "
                             "(2027-01-31T18:00:00+00:00); default: never")
    create.set_defaults(handler=cmd_token_create)
    revoke = tokens.add_parser("revoke", help="revoke a token by its id (at once, in every "
                                              "API process)")
    revoke.add_argument("token_id")
    revoke.set_defaults(handler=cmd_token_revoke)
    listing = tokens.add_parser("list", help="list the tokens issued (no secrets)")
    listing.add_argument("--person", help="only this person's tokens (handle or id)")
    listing.set_defaults(handler=cmd_token_list)


def cmd_token_create(args: argparse.Namespace) -> int:
    from api.tokens import issue_token, parse_expiry

    app = DialogueLedger(store_env())
    try:
        expires_at = None if args.expires is None else parse_expiry(args.expires, app.clock())
        token, token_id = issue_token(app, args.person, args.role, args.label,
                                      expires_at=expires_at)
    finally:
        app.close()
    print(token)
    until = "" if expires_at is None else f", expires {expires_at.isoformat()}"
    print(f"token id {token_id} ({args.role} for {args.person}{until}); keep the token "
          "secret: only its hash is stored")
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from api.tokens import list_tokens

    app = DialogueLedger(store_env())
    try:
        listing = list_tokens(app, args.person)
    finally:
        app.close()
    print("id\tperson\trole\tlabel\tissued at\tissued by\texpires\trevoked")
    for t in listing:
        expires = "never" if t.expires_at is None else t.expires_at.isoformat()
        label = " ".join(t.label.split())  # one line per token, whatever the label holds
        print(f"{t.id}\t{t.handle}\t{t.role}\t{label}\t{t.issued_at.isoformat()}\t"
              f"{t.issued_by}\t{expires}\t{'yes' if t.revoked else 'no'}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from uuid import UUID

    from api.tokens import revoke_token
    from ledger.errors import InvalidInput

    try:
        token_id = UUID(args.token_id)
    except ValueError:
        raise InvalidInput("not a token id", value=args.token_id) from None
    app = DialogueLedger(store_env())
    try:
        revoke_token(app, token_id)
    finally:
        app.close()
    print(f"revoked {token_id}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from api.app import create_app
    from ledger.errors import InvalidInput
    from projections.cli import StopRequest

    if args.workers < 1:
        raise InvalidInput("--workers must be at least 1", field="workers")
    stop = StopRequest()  # a stop asked for before the server takes the signals over
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    env = store_env()
    if args.demo:
        _prepare_demo(env, f"http://{args.host}:{args.port}")
    projector = args.projector or ("in-process" if args.workers == 1 else "none")
    if args.workers == 1:
        if stop.signal is not None:
            return 0
        config = uvicorn.Config(create_app(env, follow=projector == "in-process"),
                                host=args.host, port=args.port, log_level=args.log_level,
                                timeout_graceful_shutdown=CONNECTIONS_GRACE)
        server = _server_class()(config, stop)
        try:
            server.run()
        except SystemExit:  # uvicorn's exit when the app's start-up was given up
            if stop.signal is None:
                raise
            return 0
        # 3: uvicorn's status for a failed start-up (stopping while starting is no failure)
        return 0 if server.started or stop.signal is not None else 3
    # Several processes: each worker builds the app from the environment.
    os.environ.update(env)
    os.environ["DIALOGUE_LEDGER_PROJECTOR"] = projector
    uvicorn.run("api.app:create_app_from_environment", factory=True, host=args.host,
                port=args.port, workers=args.workers, log_level=args.log_level,
                timeout_graceful_shutdown=CONNECTIONS_GRACE)
    return 0


def _server_class() -> type[Any]:
    import uvicorn

    from api.commands import STOP_REQUESTED
    from projections.cli import StopRequest

    class StoppingServer(uvicorn.Server):
        """uvicorn's server, stopped by SIGTERM or SIGINT (once or many times) with exit
        status 0. uvicorn raises the signal again once it has shut down gracefully, so the
        process would end "killed by SIGTERM" (status -15), which supervisors read as a
        failure; and a second Ctrl-C skips the app's shutdown (its command process would
        be left to be killed). Here every further signal only repeats the request, and
        after the shutdown they are ignored until the process exits."""

        def __init__(self, config: uvicorn.Config, stop: StopRequest) -> None:
            super().__init__(config)
            self.stop = stop  # also holds a signal that came before the server started

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, self.handle_exit)
            if self.stop.signal is not None:
                self.handle_exit(self.stop.signal, None)
            try:
                yield
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, _stopping_already)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.stop(sig, frame)
            self.should_exit = True
            STOP_REQUESTED.append(time.monotonic())  # see api.commands.STOP_REQUESTED

    return StoppingServer


def _stopping_already(signum: int, frame: FrameType | None) -> None:
    """The server has stopped and the process is about to exit: nothing more to do."""


def _prepare_demo(env: dict[str, str], url: str) -> None:
    from api.tokens import issue_token
    from ledger.demo import COMMUNITY_SLUG, record_demo

    app = DialogueLedger(env)
    try:
        if app.position == 0:
            summary = record_demo(app)
            print(f"Recorded the demo dialogue: {summary.events} events.")
        tokens = {role: issue_token(app, handle, role, "demo")[0]
                  for handle, role in DEMO_TOKENS}
    finally:
        app.close()
    print(f"\nDialogue Ledger API on {describe(env)}: {url}  (OpenAPI: {url}/docs)\n")
    for handle, role in DEMO_TOKENS:
        print(f"  {role:<15} {handle:<6} {tokens[role]}")
    member, auditor = tokens["member"], tokens["auditor"]
    c = COMMUNITY_SLUG
    print(f"""
Try:
  curl -s {url}/communities -H 'Authorization: Bearer {member}'
  curl -s {url}/communities/{c}/threads -H 'Authorization: Bearer {member}'
  curl -s '{url}/communities/{c}/reports/listening?from=2026-09-01&to=2026-11-01' \\
       -H 'Authorization: Bearer {member}'
  curl -s {url}/communities/{c}/moderation-log -H 'Authorization: Bearer {auditor}'
  curl -s -X POST {url}/communities/{c}/threads -H 'Authorization: Bearer {member}' \\
       -H 'Content-Type: application/json' -H 'Idempotency-Key: try-1' \\
       -d '{{"kind": "question", "title": "Hello", "body": "Is anyone listening?"}}'
  curl -sN {url}/communities/{c}/events -H 'Authorization: Bearer {member}'
""")
