"""API tokens: revocation and expiry on the very next request (in every process), open event
streams ending with their token, who issued a token, ``token list``, tokens of older versions,
and credentials kept out of the auditors' export. SQLite and PostgreSQL throughout."""

from __future__ import annotations

import getpass
import hashlib
import io
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.tokens import (
    OPERATOR_ID,
    ApiToken,
    TokenGrant,
    TokenRole,
    digest_of,
    find_token,
    issue_token,
    list_tokens,
    revoke_token,
)
from ledger.application import DialogueLedger
from ledger.demo import COMMUNITY_SLUG, record_demo
from ledger.domain.base import Act
from ledger.errors import InvalidInput
from projections.runner import Projector
from replay import seal as sealing
from tests.api_world import (  # noqa: F401
    WorldCopy,
    pg_world_fixture,
    serve,
    services,
    stored_fixture,
    world_copy_fixture,
    world_template_fixture,
)
from tests.conftest import Cli
from tests.test_scale_out import api_server, processes


def fresh_token(env: dict[str, str], handle: str = "ruth", **options: Any) -> tuple[str, UUID]:
    """A token of this test's own (the PostgreSQL world is shared by the module)."""
    app = DialogueLedger(env)
    try:
        return issue_token(app, handle, "member", "tokens tests", **options)
    finally:
        app.close()


def revoke_elsewhere(env: dict[str, str], token_id: UUID) -> None:
    """Revoke as another process would (the command line, another API process)."""
    app = DialogueLedger(env)
    try:
        revoke_token(app, token_id)
    finally:
        app.close()


def old_token(app: DialogueLedger, handle: str, label: str) -> tuple[str, UUID]:
    """A token as versions before credentials were kept apart issued it: the digest and the
    label in the ``Issued`` event, the id derived from the digest, the holder as actor."""
    token = "dl_" + hashlib.sha256(label.encode()).hexdigest()[:43]
    person_id = app.person_id(handle)
    record = ApiToken(digest=digest_of(token), person_id=person_id, role=TokenRole.MEMBER,
                      label=label, act=Act(actor_id=person_id, occurred_at=app.clock()))
    app.save(record)
    return token, record.id


# --- revocation and expiry -------------------------------------------------------------------
def test_a_revoked_token_fails_on_its_very_next_read_and_write(stored: WorldCopy) -> None:
    w = stored.world
    token, token_id = fresh_token(stored.env)
    headers = {"Authorization": f"Bearer {token}"}
    reply = {"body": "Still here?"}
    with serve(stored.env) as client:
        for _ in range(2):  # the second answer comes from the answers cache
            assert client.get(f"/threads/{w.thread}", headers=headers).status_code == 200
        assert client.post(f"/posts/{w.post}/replies", headers=headers,
                           json=reply).status_code == 201
        revoke_elsewhere(stored.env, token_id)
        position = services(client).ledger.position
        for method, url, body in (("GET", f"/threads/{w.thread}", None),
                                  ("GET", "/communities", None),
                                  ("POST", f"/posts/{w.post}/replies", reply)):
            response = client.request(method, url, headers=headers, json=body)
            assert response.status_code == 401, (method, url)
            assert response.json()["code"] == "unauthorised"
        assert services(client).ledger.position == position  # nothing recorded


def test_an_expired_token_fails_on_its_next_request(stored: WorldCopy) -> None:
    w = stored.world
    app = DialogueLedger(stored.env)
    try:
        now = app.clock()
        token, _ = issue_token(app, "ruth", "member", expires_at=now + timedelta(hours=1))
    finally:
        app.close()
    headers = {"Authorization": f"Bearer {token}"}
    with serve(stored.env) as client:
        for _ in range(2):
            assert client.get(f"/threads/{w.thread}", headers=headers).status_code == 200
        services(client).ledger.clock = lambda: now + timedelta(hours=1, seconds=1)
        assert client.get(f"/threads/{w.thread}", headers=headers).status_code == 401
        services(client).tokens.clear()  # looked up afresh: still expired
        assert client.get("/communities", headers=headers).status_code == 401


def test_an_expiry_that_is_not_in_the_future_is_refused(stored: WorldCopy) -> None:
    app = DialogueLedger(stored.env)
    try:
        position = app.position
        with pytest.raises(InvalidInput, match="future"):
            issue_token(app, "ruth", "member", expires_at=app.clock() - timedelta(seconds=1))
        assert app.position == position
    finally:
        app.close()


# --- the command line ------------------------------------------------------------------------
def test_token_create_records_the_operator_who_ran_it_and_list_shows_no_secret(
        cli: Cli, store_env: dict[str, str]) -> None:
    app = DialogueLedger(store_env)
    try:
        for handle in ("ruth", "jonas"):
            app.register_person(handle, handle.title())
    finally:
        app.close()
    code, out, _ = cli("token", "create", "--person", "ruth", "--role", "moderator",
                       "--label", "ruth's laptop", "--expires", "30d")
    assert code == 0
    token = out.split()[0]
    code, out, _ = cli("token", "create", "--person", "jonas", "--role", "member",
                       "--expires", "2099-01-31T18:00:00+01:00")
    assert code == 0
    jonas_token = out.split()[0]
    app = DialogueLedger(store_env)
    try:
        record = find_token(app, token)
        assert isinstance(record, TokenGrant)
        assert record.issued_by == OPERATOR_ID != record.person_id
        assert record.operator == getpass.getuser()
        assert record.expires_at is not None
        assert abs(record.expires_at - (record.issued_at + timedelta(days=30))) < timedelta(
            minutes=1)
        jonas = find_token(app, jonas_token)
        assert jonas is not None and jonas.expires_at is not None
        assert jonas.expires_at.isoformat() == "2099-01-31T17:00:00+00:00"
    finally:
        app.close()

    code, out, _ = cli("token", "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split("\t") == ["id", "person", "role", "label", "issued at", "issued by",
                                    "expires", "revoked"]
    rows = {row[1]: row for row in (line.split("\t") for line in lines[1:])}
    assert set(rows) == {"ruth", "jonas"}
    assert rows["ruth"][0] == str(record.id)
    assert rows["ruth"][2:4] == ["moderator", "ruth's laptop"]
    assert rows["ruth"][5] == f"operator {getpass.getuser()}"
    assert rows["ruth"][6] == record.expires_at.isoformat()
    assert rows["ruth"][7] == "no"
    assert token not in out and digest_of(token) not in out

    assert cli("token", "revoke", str(record.id))[0] == 0
    code, _, err = cli("token", "revoke", str(record.id))
    assert code != 0 and "already revoked" in err
    code, out, _ = cli("token", "list", "--person", "ruth")
    assert code == 0
    rows = {row[1]: row for row in (line.split("\t") for line in out.strip().splitlines()[1:])}
    assert set(rows) == {"ruth"}
    assert rows["ruth"][7] == "yes"


@pytest.mark.parametrize("expires", ["0d", "soon", "2020-01-01T00:00:00+00:00",
                                     "2099-01-01T00:00:00", "999999w", "-5d"])
def test_token_create_refuses_a_bad_expiry_and_records_nothing(
        cli: Cli, store_env: dict[str, str], expires: str) -> None:
    app = DialogueLedger(store_env)
    try:
        app.register_person("ruth", "Ruth")
        position = app.position
    finally:
        app.close()
    code, out, _ = cli("token", "create", "--person", "ruth", "--role", "member",
                       f"--expires={expires}")
    assert code != 0
    assert "dl_" not in out
    app = DialogueLedger(store_env)
    try:
        assert app.position == position
    finally:
        app.close()


# --- tokens issued by older versions -----------------------------------------------------------
def test_tokens_issued_by_older_versions_still_load_work_and_can_be_revoked(
        stored: WorldCopy) -> None:
    w = stored.world
    app = DialogueLedger(stored.env)
    try:
        token, token_id = old_token(app, "ruth", "old laptop")
    finally:
        app.close()
    headers = {"Authorization": f"Bearer {token}"}
    with serve(stored.env) as client:
        assert client.get(f"/threads/{w.thread}", headers=headers).status_code == 200
        app = DialogueLedger(stored.env)
        try:
            record = find_token(app, token)
            assert isinstance(record, ApiToken)
            assert record.id == token_id and record.expires_at is None
            listed = {t.id: t for t in list_tokens(app, "ruth")}[token_id]
            assert (listed.label, listed.issued_by, listed.revoked) == ("old laptop", "ruth",
                                                                        False)
            revoke_token(app, token_id)
        finally:
            app.close()
        assert client.get(f"/threads/{w.thread}", headers=headers).status_code == 401


# --- the auditors' export --------------------------------------------------------------------
def test_the_auditors_export_holds_no_credentials_yet_each_event_still_verifies(
        store_env: dict[str, str]) -> None:
    app = DialogueLedger(store_env)
    try:
        app.register_person("ruth", "Ruth")
        old, old_id = old_token(app, "ruth", "secret place")
        new, new_id = issue_token(app, "ruth", "auditor", "another secret place")
        key = Ed25519PrivateKey.generate()
        checkpoint = sealing.checkpoint(app, key)
        proof, verified = sealing.inclusion_proof_document(
            app, app.position - 1, checkpoint, redact_credentials=True)
        buffer = io.BytesIO()
        sealing.export_events(app, buffer, redact_credentials=True)
        full = io.BytesIO()
        sealing.export_events(app, full)
        stored_events = {(n.originator_id, n.originator_version): n
                         for n in app.recorder.select_notifications(1, 1000)}
    finally:
        app.close()
    assert verified and proof["event"]["redacted"] == ["digest", "label"]
    assert digest_of(old) not in orjson.dumps(proof).decode()
    assert proof["event"]["leaf_hash"] == proof["leaf_hash"]
    exported = buffer.getvalue()
    for secret in (old, new, digest_of(old), digest_of(new), "secret place"):
        assert secret.encode() not in exported, secret
    assert digest_of(old).encode() in full.getvalue()  # the operator's full copy keeps all
    lines = [orjson.loads(line) for line in exported.splitlines()]
    by_id = {(UUID(line["originator_id"]), line["originator_version"]): line for line in lines}

    issued = by_id[(old_id, 1)]
    assert issued["redacted"] == ["digest", "label"]
    assert "digest" not in issued["state"] and "label" not in issued["state"]
    assert issued["state"]["person_id"] == lines[0]["originator_id"]  # who was granted what
    original = stored_events[(old_id, 1)]
    assert issued["leaf_hash"] == sealing.event_leaf_hash(
        str(old_id), 1, original.topic, original.state).hex()

    granted = by_id[(new_id, 1)]
    assert granted["topic"] == "api.tokens:TokenGrant.Granted"
    assert "redacted" not in granted
    assert granted["state"]["role"] == "auditor"
    assert granted["state"]["act"]["actor_id"] == str(OPERATOR_ID)  # who granted it

    app = DialogueLedger(store_env)
    try:
        position = app.position
    finally:
        app.close()
    target = {**store_env}
    if "SQLITE_DBNAME" in target:
        target["SQLITE_DBNAME"] += ".imported"
        other = DialogueLedger(target)
        try:
            with pytest.raises(InvalidInput, match="credential"):
                sealing.import_events(other, exported.splitlines())
            assert other.position == 0
        finally:
            other.close()
    assert position == len(lines)


def test_the_auditors_export_over_http_holds_no_token_digest(stored: WorldCopy) -> None:
    w = stored.world
    with serve(stored.env) as client:
        response = client.get("/audit/exports/events", headers=w.headers("auditor"))
    assert response.status_code == 200
    for token in w.tokens.values():
        assert digest_of(token).encode() not in response.content
    assert b"api tests: " not in response.content  # the labels
    assert b"TokenGrant.Granted" in response.content  # the grants themselves are there


# --- several API processes -----------------------------------------------------------------------
def test_a_revocation_reaches_another_api_process_at_once_and_ends_its_open_stream(
        store_env: dict[str, str], tmp_path: Path) -> None:
    """Two real API processes on one store (on PostgreSQL: as on two hosts). The token is
    revoked by a third process; the very next request through either API process is 401,
    and an event stream opened before through the other one ends within a second."""
    app = DialogueLedger(store_env)
    try:
        record_demo(app)
    finally:
        app.close()
    app = DialogueLedger(store_env)  # the real clock again (the demo ran on a story clock)
    try:
        token, token_id = issue_token(app, "ruth", "member", "two processes")
        Projector(app).catch_up()
    finally:
        app.close()
    headers = {"Authorization": f"Bearer {token}"}
    threads = f"/communities/{COMMUNITY_SLUG}/threads"
    ended: dict[str, Any] = {}
    opened = threading.Event()

    def listen(url: str) -> None:
        with httpx.stream("GET", f"{url}/communities/{COMMUNITY_SLUG}/events",
                          headers=headers, timeout=httpx.Timeout(10, read=30)) as response:
            ended["status"] = response.status_code
            opened.set()
            for _ in response.iter_bytes():
                pass
        ended["at"] = time.monotonic()

    with processes() as started:
        first = api_server(started, store_env, tmp_path, "api-a")
        other = api_server(started, store_env, tmp_path, "api-b")
        with httpx.Client(base_url=first.url, headers=headers, timeout=10) as a, \
                httpx.Client(base_url=other.url, headers=headers, timeout=10) as b:
            for api in (a, b, a, b):  # known (cached) in both processes
                assert api.get(threads).status_code == 200
            listener = threading.Thread(target=listen, args=(other.url,), daemon=True)
            listener.start()
            assert opened.wait(10) and ended["status"] == 200
            revoke_elsewhere(store_env, token_id)
            revoked_at = time.monotonic()
            assert b.get(threads).status_code == 401  # the very next request
            assert a.get(threads).status_code == 401
            listener.join(timeout=5)
            assert not listener.is_alive(), "the open stream did not end"
    assert ended["at"] - revoked_at < 1.0  # TOKEN_RECHECK_SECONDS: in practice ≤ 0.5 s
