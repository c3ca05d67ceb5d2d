"""The auditors' endpoints: the record as it stood, histories, exports, proofs."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from tests.api_world import (  # noqa: F401  (the *_fixture names are fixtures)
    World,
    api_fixture,
    world_copy_fixture,
    world_fixture,
    world_template_fixture,
)


def test_an_auditor_reads_a_thread_as_it_stood_and_its_full_history(
        api: TestClient, world: World) -> None:
    h = world.headers("auditor")
    history = api.get(f"/audit/threads/{world.thread}/history", headers=h)
    assert history.status_code == 200, history.text
    events = history.json()["events"]
    assert events[0]["event"] == "Thread.Opened"
    first = events[0]["position"]
    then = api.get(f"/audit/threads/{world.thread}", headers=h, params={"at": first + 1})
    assert then.status_code == 200 and then.json()["as_of"]["position"] == first + 1
    now = api.get(f"/audit/threads/{world.thread}", headers=h).json()
    now.pop("as_of")
    assert now == api.get(f"/threads/{world.thread}/audit", headers=h).json()
    before = api.get(f"/audit/threads/{world.thread}", headers=h, params={"at": first - 1})
    assert before.status_code == 404  # the thread did not exist yet
    both = api.get(f"/audit/threads/{world.thread}", headers=h,
                   params={"at": first, "as_of": "2026-01-01T00:00:00Z"})
    assert both.status_code == 422


def test_an_auditor_exports_moderation_decisions_as_csv_and_json_lines(
        api: TestClient, world: World) -> None:
    h = world.headers("auditor")
    exported = api.get("/audit/exports/moderation", headers=h, params={"format": "csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    log = api.get(f"/communities/{world.community}/moderation-log", headers=h,
                  params={"limit": 500}).json()["items"]
    assert sorted(r["decision_id"] for r in rows) == sorted(d["id"] for d in log)
    lines = api.get("/audit/exports/moderation", headers=h, params={"format": "jsonl"})
    assert [orjson.loads(line)["decision_id"] for line in lines.text.splitlines()] == \
        [r["decision_id"] for r in rows]


def test_an_auditor_gets_proofs_that_verify_offline(api: TestClient, world: World,
                                                     tmp_path: Path) -> None:
    h = world.headers("auditor")
    checkpoints = api.get("/audit/checkpoints", headers=h).json()["items"]
    assert len(checkpoints) >= 2
    inclusion = api.get("/audit/proofs/inclusion", headers=h, params={"position": 5})
    assert inclusion.status_code == 200 and inclusion.json()["verified"] is True
    consistency = api.get("/audit/proofs/consistency", headers=h, params={"old": 1, "new": 2})
    assert consistency.status_code == 200 and consistency.json()["verified"] is True
    proof_file = tmp_path / "inclusion.json"
    proof_file.write_bytes(orjson.dumps(inclusion.json()))
    checked = subprocess.run([sys.executable, "-m", "replay.proofcheck", "inclusion",
                              str(proof_file)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert api.get("/audit/proofs/consistency", headers=h,
                   params={"old": 1, "new": 99}).status_code == 404


def test_an_auditor_exports_the_event_log(api: TestClient, world: World) -> None:
    exported = api.get("/audit/exports/events", headers=world.headers("auditor"))
    assert exported.status_code == 200
    lines = exported.content.splitlines()
    head = api.get("/readyz").json()["ledger_position"]
    assert len(lines) == head
    assert orjson.loads(lines[-1])["position"] == head
