"""Example answers of the API's views, shown in the OpenAPI document (``/docs``).

Where they come from: real answers. The demo dialogue (``ledger.demo.record_demo``) was
recorded on a temporary SQLite store, a checkpoint sealed, tokens issued
(``api.tokens.issue_token``: ruth as member, maya as representative, bea as moderator, ines as
auditor) and a second checkpoint sealed; then each endpoint was read with a GET through
``fastapi.testclient.TestClient(create_app(env))``. Long lists were trimmed to their first
one or two items (a thread's replies to three: a member's with its first reply, the
organisation's, and a hidden one); everything else is verbatim.

``tests/test_api_schema.py::test_every_documented_example_has_the_shape_of_the_real_answer``
keeps them true: it reads every endpoint that shows an example and checks that the example
has the shape of the real answer (the same keys at every level, the same types of values).
The routes show them through ``api.routes.common.read_responses``. (FastAPI drops every null
from the examples in the document it generates, fastapi/fastapi#5559: a key whose value is
``None`` here is missing from ``/openapi.json`` unless the app puts the examples back whole.)
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson


def _jsonl(records: list[dict[str, Any]]) -> str:
    """JSON Lines, as the exports write them (orjson, one record a line)."""
    return "".join(orjson.dumps(record).decode() + "\n" for record in records)


def _csv(rows: list[list[str]]) -> str:
    """CSV, as the moderation export writes it (a header row, CRLF line ends)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return out.getvalue()


# --- the people and checkpoints the examples share ------------------------------------------------
#: people as the views show them (an author, a voter, a moderator...)
_AMARA = {"id": "350e209f-6c72-5255-b194-e810ed591c04", "handle": "amara", "name": "Amara Osei"}
_BEA = {"id": "d4df4dad-26ea-5d54-9544-367861d9c802", "handle": "bea", "name": "Bea Lindqvist"}
_DMITRI = {
    "id": "2f55761d-1735-54c5-8527-197c131225b8",
    "handle": "dmitri",
    "name": "Dmitri Volkov",
}
_FELIX = {"id": "3e1cfb34-55f9-5e19-9c6a-1c44d969daec", "handle": "felix", "name": "Felix Novak"}
_JONAS = {"id": "dc4151ca-82d3-5e45-ac88-861913ad397a", "handle": "jonas", "name": "Jonas Berg"}
_LENA = {"id": "15d0c8ac-1b13-5198-8e3c-fb72adbed4ee", "handle": "lena", "name": "Lena Fischer"}
_MAYA = {"id": "b0c292a1-8bc2-58e2-84ff-564de3b76256", "handle": "maya", "name": "Maya Okafor"}
_NOOR = {"id": "f7d3b6e2-195d-5db6-a70b-e52d8bb096dc", "handle": "noor", "name": "Noor Khalil"}
_PRIYA = {"id": "44c99bf6-fe7c-5e34-b7a3-befff20a4290", "handle": "priya", "name": "Priya Raman"}
_RUTH = {"id": "94f3f88f-df76-50de-b205-4a01740e72f7", "handle": "ruth", "name": "Ruth Adeyemi"}
_TOM = {"id": "719bee5e-92dc-5beb-b5c7-145866dec64a", "handle": "tom", "name": "Tom Reyes"}
_VINCE = {"id": "6576fff0-9893-5cad-a3f4-eeae4543192d", "handle": "vince", "name": "Vince Harlow"}

#: the two signed checkpoints (around the tokens' issue)
_CHECKPOINT_1: dict[str, Any] = {
    "format": "dialogue-ledger/checkpoint/v1",
    "tree_size": 373,
    "root_hash": "8b636766437e4e3dd48c8f1488d34b9c2fd837880728ada039f712257bc50e61",
    "timestamp": "2026-11-27T03:14:32.947647Z",
    "key_id": "b01359b6082fe47dff9e612747f9a1d0",
    "public_key": (
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEAaHq1/t9RWBqPKftoL0kGhwpuFuXJGAajTXf3FiDPuq0=\n"
        "-----END PUBLIC KEY-----\n"
    ),
    "signature": (
        "gI42ca8iA+hjBTxtVA8BY10D7AmmfL72UBWpQuRer47i4uPMx9R8xBs5R86IWf15oFO1GlOwZT04e3OjALpPCQ=="
    ),
    "signed_message": (
        "dialogue-ledger checkpoint v1\n"
        "tree_size 373\n"
        "root_hash 8b636766437e4e3dd48c8f1488d34b9c2fd837880728ada039f712257bc50e61\n"
        "timestamp 2026-11-27T03:14:32.947647Z\n"
        "key_id b01359b6082fe47dff9e612747f9a1d0\n"
    ),
    "last_position": 373,
    "subtree_roots": [
        "5752ebe30627f1c50a59f6a5f1c83494d4aa0f763dc53634b63b10ad59539edd",
        "52fc954fbe4dc65cb48680056144bbc17adbd25629e02fd694e4e2dbb581f3d4",
    ],
    "checkpoint_id": 1,
}

_CHECKPOINT_2: dict[str, Any] = {
    "format": "dialogue-ledger/checkpoint/v1",
    "tree_size": 377,
    "root_hash": "c5f32beefd0eeeceb6ec093fed620407a4ac72a193e3d2b39e3ce6268dd18d8b",
    "timestamp": "2026-11-27T03:14:32.951482Z",
    "key_id": "b01359b6082fe47dff9e612747f9a1d0",
    "public_key": (
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEAaHq1/t9RWBqPKftoL0kGhwpuFuXJGAajTXf3FiDPuq0=\n"
        "-----END PUBLIC KEY-----\n"
    ),
    "signature": (
        "G5arvYXOHji5wNM3dLga6mSt9C9/1huO4KRqusuuFy4bwGN6CDoUYEDvfo7IUCzFCXQCBVTYWxOSvFhWkzf2Cw=="
    ),
    "signed_message": (
        "dialogue-ledger checkpoint v1\n"
        "tree_size 377\n"
        "root_hash c5f32beefd0eeeceb6ec093fed620407a4ac72a193e3d2b39e3ce6268dd18d8b\n"
        "timestamp 2026-11-27T03:14:32.951482Z\n"
        "key_id b01359b6082fe47dff9e612747f9a1d0\n"
    ),
    "last_position": 377,
    "subtree_roots": [
        "5752ebe30627f1c50a59f6a5f1c83494d4aa0f763dc53634b63b10ad59539edd",
        "52fc954fbe4dc65cb48680056144bbc17adbd25629e02fd694e4e2dbb581f3d4",
    ],
    "checkpoint_id": 2,
}


# --- operations -----------------------------------------------------------------------------------
#: GET /healthz
HEALTH: dict[str, Any] = {"status": "ok"}

#: GET /readyz
READINESS: dict[str, Any] = {
    "status": "ready",
    "ledger_position": 377,
    "view_position": 377,
    "projection_lag": 0,
}

#: GET /readyz while the command process is being restarted (or, with ``"store"``, while the
#: store cannot be reached)
UNREADY: dict[str, Any] = {
    "status": "unavailable",
    "commands": "the command process is being restarted",
}

#: GET /readyz while a view could not apply an event (parked, see docs/projections.md)
PARKED: dict[str, Any] = {
    "status": "unavailable",
    "views": "events the views could not apply are parked",
    "ledger_position": 377,
    "view_position": 377,
    "projection_lag": 0,
    "parked_count": 1,
    "parked": [{
        "view": "directory",
        "position": 212,
        "originator_id": "5b0f6a52-8f7e-5c2e-9d1e-6f8f3a2b7c41",
        "topic": "ledger.domain.person:Person.Registered",
        "error": "psycopg.DataError: PostgreSQL text fields cannot contain NUL (0x00) bytes",
        "parked_at": "2026-11-02T09:14:03.512000Z",
    }],
}


# --- people, organisations and communities --------------------------------------------------------
#: GET /people/{person}: ruth's profile
PERSON: dict[str, Any] = {
    "id": "94f3f88f-df76-50de-b205-4a01740e72f7",
    "handle": "ruth",
    "display_name": "Ruth Adeyemi",
    "is_bot": False,
}

#: GET /organisations/{organisation}
ORGANISATION: dict[str, Any] = {
    "id": "c57bf0c4-b783-506a-ae89-83ed94950227",
    "name": "Northwind Energy",
    "slug": "northwind",
    "representatives": [
        {
            "id": "15d0c8ac-1b13-5198-8e3c-fb72adbed4ee",
            "handle": "lena",
            "display_name": "Lena Fischer",
        },
        {
            "id": "b0c292a1-8bc2-58e2-84ff-564de3b76256",
            "handle": "maya",
            "display_name": "Maya Okafor",
        },
    ],
}

#: GET /communities
COMMUNITIES: dict[str, Any] = {
    "items": [
        {
            "id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
            "slug": "northwind-voices",
            "name": "Northwind Voices",
            "organisation": {
                "id": "c57bf0c4-b783-506a-ae89-83ed94950227",
                "slug": "northwind",
                "name": "Northwind Energy",
            },
            "access": "invitation-only",
            "rule": {
                "quorum": 4,
                "threshold": 0.6,
                "min_community_votes": 3,
                "deadline_days": 7,
                "direct_invitations": False,
            },
            "member_count": 15,
            "created_at": "2026-09-01T08:40:19.366414Z",
        },
    ],
    "next": None,
}

#: GET /communities/{community}
COMMUNITY: dict[str, Any] = {
    "id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "slug": "northwind-voices",
    "name": "Northwind Voices",
    "organisation": {
        "id": "c57bf0c4-b783-506a-ae89-83ed94950227",
        "slug": "northwind",
        "name": "Northwind Energy",
    },
    "access": "invitation-only",
    "rule": {
        "quorum": 4,
        "threshold": 0.6,
        "min_community_votes": 3,
        "deadline_days": 7,
        "direct_invitations": False,
    },
    "member_count": 15,
    "created_at": "2026-09-01T08:40:19.366414Z",
}

#: GET /communities/{community}/members?limit=2
ROSTER: dict[str, Any] = {
    "items": [
        {
            "person_id": "350e209f-6c72-5255-b194-e810ed591c04",
            "membership_id": "5cd23a4f-81f4-569c-bbc5-fac7ad8cc267",
            "handle": "amara",
            "display_name": "Amara Osei",
            "is_bot": False,
            "status": "active",
            "roles": ["member"],
            "moderator_side": None,
            "joined_via": "direct-invitation",
            "joined_at": "2026-09-03T12:38:14.835761Z",
        },
        {
            "person_id": "d4df4dad-26ea-5d54-9544-367861d9c802",
            "membership_id": "48b99a0b-f227-559b-8b3f-fdc59b7782c3",
            "handle": "bea",
            "display_name": "Bea Lindqvist",
            "is_bot": False,
            "status": "active",
            "roles": ["member", "moderator"],
            "moderator_side": "community",
            "joined_via": "direct-invitation",
            "joined_at": "2026-09-07T10:01:10.347468Z",
        },
    ],
    "next": "WyJiZWEiLCJkNGRmNGRhZC0yNmVhLTVkNTQtOTU0NC0zNjc4NjFkOWM4MDIiXQ==",
}


# --- threads --------------------------------------------------------------------------------------
#: GET /communities/{community}/threads?limit=2
THREADS: dict[str, Any] = {
    "items": [
        {
            "id": "f499c8bc-f724-4590-a7d5-940b41e89941",
            "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
            "title": "Rural north: outages every storm, and no answers",
            "kind": "concern",
            "opener": _RUTH,
            "opened_at": "2026-09-11T01:32:35.576171Z",
            "last_activity_at": "2026-12-25T00:37:26.255674Z",
            "post_count": 13,
            "visible_post_count": 13,
            "org_reply_count": 1,
            "org_responded": True,
            "locked": False,
            "nomination_id": None,
        },
        {
            "id": "2bb5e679-88f3-4c55-bdb8-059f78029c08",
            "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
            "title": "A community solar co-op on school roofs",
            "kind": "proposal",
            "opener": _AMARA,
            "opened_at": "2026-09-23T23:04:05.212274Z",
            "last_activity_at": "2026-12-04T23:46:50.477998Z",
            "post_count": 13,
            "visible_post_count": 12,
            "org_reply_count": 1,
            "org_responded": True,
            "locked": False,
            "nomination_id": None,
        },
    ],
    "next": "dGhyZWFkczoxNzk2NDI4MDEwNDc3OTk4OjJiYjVlNjc5LTg4ZjMtNGM1NS1iZGI4LTA1OWY3ODAyOWMwOA",
}

#: GET /threads/{thread_id}: the public reply tree
THREAD: dict[str, Any] = {
    "id": "2bb5e679-88f3-4c55-bdb8-059f78029c08",
    "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "title": "A community solar co-op on school roofs",
    "kind": "proposal",
    "opener": _AMARA,
    "opened_at": "2026-09-23T23:04:05.212274Z",
    "last_activity_at": "2026-12-04T23:46:50.477998Z",
    "post_count": 13,
    "visible_post_count": 12,
    "org_reply_count": 1,
    "org_responded": True,
    "locked": False,
    "nomination_id": None,
    "audience": "public",
    "posts": [
        {
            "id": "744932c1-8922-5089-a43f-02d66710bf2a",
            "parent_id": None,
            "kind": "proposal",
            "author": _AMARA,
            "for_organisation": False,
            "published_at": "2026-09-23T23:04:05.212274Z",
            "edited_at": None,
            "acknowledgement_count": 1,
            "state": "visible",
            "body": (
                "Northwind could lease school roofs, and members buy shares. We have three schools "
                "keen."
            ),
            "placeholder": None,
            "replies": [
                {
                    "id": "0e41a782-dd34-4d33-8458-6d52b83a127b",
                    "parent_id": "744932c1-8922-5089-a43f-02d66710bf2a",
                    "kind": "comment",
                    "author": _JONAS,
                    "for_organisation": False,
                    "published_at": "2026-09-25T23:54:27.306556Z",
                    "edited_at": None,
                    "acknowledgement_count": 0,
                    "state": "visible",
                    "body": "I'd support this if the figures are published openly.",
                    "placeholder": None,
                    "replies": [
                        {
                            "id": "a8ee66cc-dfdb-4901-b6d2-aefb39427ac0",
                            "parent_id": "0e41a782-dd34-4d33-8458-6d52b83a127b",
                            "kind": "comment",
                            "author": _AMARA,
                            "for_organisation": False,
                            "published_at": "2026-09-26T07:02:10.907356Z",
                            "edited_at": None,
                            "acknowledgement_count": 0,
                            "state": "visible",
                            "body": "Can Northwind give a date for an answer?",
                            "placeholder": None,
                            "replies": [],
                        },
                    ],
                },
                {
                    "id": "5973ad14-36cf-4f9a-9a74-004335d4e09e",
                    "parent_id": "744932c1-8922-5089-a43f-02d66710bf2a",
                    "kind": "comment",
                    "author": _TOM,
                    "for_organisation": True,
                    "published_at": "2026-09-28T23:03:25.586988Z",
                    "edited_at": None,
                    "acknowledgement_count": 0,
                    "state": "visible",
                    "body": (
                        "We have checked with the network team: it is a known fault and a fix is "
                        "scheduled."
                    ),
                    "placeholder": None,
                    "replies": [],
                },
                {
                    "id": "369ea00e-2240-421f-84d0-bd6e4d1a813b",
                    "parent_id": "744932c1-8922-5089-a43f-02d66710bf2a",
                    "kind": "comment",
                    "author": _DMITRI,
                    "for_organisation": False,
                    "published_at": "2026-12-04T23:46:50.477998Z",
                    "edited_at": None,
                    "acknowledgement_count": 0,
                    "state": "hidden",
                    "body": None,
                    "placeholder": {
                        "state": "hidden",
                        "by": _BEA,
                        "reason_code": "spam",
                        "decision_id": "56e6f743-2154-4994-8e0f-5116f5effec6",
                        "at": "2026-12-04T23:51:12.435476Z",
                    },
                    "replies": [],
                },
            ],
        },
    ],
}

#: GET /threads/{thread_id}/audit: the same thread as auditors see it
AUDITOR_THREAD: dict[str, Any] = {
    "id": "2bb5e679-88f3-4c55-bdb8-059f78029c08",
    "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "title": "A community solar co-op on school roofs",
    "kind": "proposal",
    "opener": _AMARA,
    "opened_at": "2026-09-23T23:04:05.212274Z",
    "last_activity_at": "2026-12-04T23:46:50.477998Z",
    "post_count": 13,
    "visible_post_count": 12,
    "org_reply_count": 1,
    "org_responded": True,
    "locked": False,
    "nomination_id": None,
    "audience": "auditor",
    "posts": [
        {
            "id": "744932c1-8922-5089-a43f-02d66710bf2a",
            "parent_id": None,
            "kind": "proposal",
            "author": _AMARA,
            "for_organisation": False,
            "published_at": "2026-09-23T23:04:05.212274Z",
            "edited_at": None,
            "acknowledgement_count": 1,
            "state": "visible",
            "body": (
                "Northwind could lease school roofs, and members buy shares. We have three schools "
                "keen."
            ),
            "retracted": False,
            "moderation": None,
            "versions": [
                {
                    "version": 1,
                    "body": (
                        "Northwind could lease school roofs, and members buy shares. We have three "
                        "schools keen."
                    ),
                    "actor": _AMARA,
                    "occurred_at": "2026-09-23T23:04:05.212274Z",
                },
            ],
            "history": [],
            "acknowledgements": [{"by": _TOM, "at": "2026-09-28T23:12:32.983935Z"}],
            "replies": [
                {
                    "id": "0e41a782-dd34-4d33-8458-6d52b83a127b",
                    "parent_id": "744932c1-8922-5089-a43f-02d66710bf2a",
                    "kind": "comment",
                    "author": _JONAS,
                    "for_organisation": False,
                    "published_at": "2026-09-25T23:54:27.306556Z",
                    "edited_at": None,
                    "acknowledgement_count": 0,
                    "state": "visible",
                    "body": "I'd support this if the figures are published openly.",
                    "retracted": False,
                    "moderation": None,
                    "versions": [
                        {
                            "version": 1,
                            "body": "I'd support this if the figures are published openly.",
                            "actor": _JONAS,
                            "occurred_at": "2026-09-25T23:54:27.306556Z",
                        },
                    ],
                    "history": [],
                    "acknowledgements": [],
                    "replies": [
                        {
                            "id": "a8ee66cc-dfdb-4901-b6d2-aefb39427ac0",
                            "parent_id": "0e41a782-dd34-4d33-8458-6d52b83a127b",
                            "kind": "comment",
                            "author": _AMARA,
                            "for_organisation": False,
                            "published_at": "2026-09-26T07:02:10.907356Z",
                            "edited_at": None,
                            "acknowledgement_count": 0,
                            "state": "visible",
                            "body": "Can Northwind give a date for an answer?",
                            "retracted": False,
                            "moderation": None,
                            "versions": [
                                {
                                    "version": 1,
                                    "body": "Can Northwind give a date for an answer?",
                                    "actor": _AMARA,
                                    "occurred_at": "2026-09-26T07:02:10.907356Z",
                                },
                            ],
                            "history": [],
                            "acknowledgements": [],
                            "replies": [],
                        },
                    ],
                },
                {
                    "id": "5973ad14-36cf-4f9a-9a74-004335d4e09e",
                    "parent_id": "744932c1-8922-5089-a43f-02d66710bf2a",
                    "kind": "comment",
                    "author": _TOM,
                    "for_organisation": True,
                    "published_at": "2026-09-28T23:03:25.586988Z",
                    "edited_at": None,
                    "acknowledgement_count": 0,
                    "state": "visible",
                    "body": (
                        "We have checked with the network team: it is a known fault and a fix is "
                        "scheduled."
                    ),
                    "retracted": False,
                    "moderation": None,
                    "versions": [
                        {
                            "version": 1,
                            "body": (
                                "We have checked with the network team: it is a known fault and a "
                                "fix is scheduled."
                            ),
                            "actor": _TOM,
                            "occurred_at": "2026-09-28T23:03:25.586988Z",
                        },
                    ],
                    "history": [],
                    "acknowledgements": [],
                    "replies": [],
                },
                {
                    "id": "369ea00e-2240-421f-84d0-bd6e4d1a813b",
                    "parent_id": "744932c1-8922-5089-a43f-02d66710bf2a",
                    "kind": "comment",
                    "author": _DMITRI,
                    "for_organisation": False,
                    "published_at": "2026-12-04T23:46:50.477998Z",
                    "edited_at": None,
                    "acknowledgement_count": 0,
                    "state": "hidden",
                    "body": "Cheap solar panels, DM me for a discount code!!!",
                    "retracted": False,
                    "moderation": {
                        "state": "hidden",
                        "decision_id": "56e6f743-2154-4994-8e0f-5116f5effec6",
                        "reason_code": "spam",
                        "by": _BEA,
                        "at": "2026-12-04T23:51:12.435476Z",
                    },
                    "versions": [
                        {
                            "version": 1,
                            "body": "Cheap solar panels, DM me for a discount code!!!",
                            "actor": _DMITRI,
                            "occurred_at": "2026-12-04T23:46:50.477998Z",
                        },
                    ],
                    "history": [
                        {
                            "change": "hidden",
                            "actor": _BEA,
                            "decision_id": "56e6f743-2154-4994-8e0f-5116f5effec6",
                            "reason_code": "spam",
                            "occurred_at": "2026-12-04T23:51:12.435476Z",
                        },
                    ],
                    "acknowledgements": [],
                    "replies": [],
                },
            ],
        },
    ],
}


# --- nominations ----------------------------------------------------------------------------------
#: GET /communities/{community}/nominations?limit=2
NOMINATIONS: dict[str, Any] = {
    "items": [
        {
            "id": "6bd23da6-14c7-4ab0-bdea-c825707083e1",
            "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
            "nominee": _NOOR,
            "nominator": _PRIYA,
            "statement": (
                "Noor organises 40 tenant associations; renters have no voice here yet and she "
                "would bring it."
            ),
            "status": "admitted",
            "made_at": "2026-09-08T15:00:50.784484Z",
            "deadline": "2026-09-15T15:00:50.784484Z",
            "decided_at": "2026-09-08T21:07:33.123323Z",
            "votes_cast": 4,
            "admit_votes": 4,
            "decline_votes": 0,
            "rule": {"quorum": 4, "threshold": 0.6, "min_community_votes": 3},
            "debate_thread": {
                "id": "fb8692be-cfb5-5bf5-901b-e59c686973e3",
                "post_count": 4,
                "visible_post_count": 4,
            },
        },
        {
            "id": "b7cfc172-5ead-475c-8d81-47fd71af85e9",
            "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
            "nominee": _VINCE,
            "nominator": _FELIX,
            "statement": "Vince has a big following and strong views on prices.",
            "status": "declined",
            "made_at": "2026-09-09T21:17:54.796759Z",
            "deadline": "2026-09-16T21:17:54.796759Z",
            "decided_at": "2026-09-09T22:17:16.101535Z",
            "votes_cast": 5,
            "admit_votes": 2,
            "decline_votes": 3,
            "rule": {"quorum": 4, "threshold": 0.6, "min_community_votes": 3},
            "debate_thread": {
                "id": "66c1047d-52be-51c3-81c6-d80c931a0373",
                "post_count": 4,
                "visible_post_count": 4,
            },
        },
    ],
    "next": (
        "WyIyMDI2LTA5LTA5VDIxOjE3OjU0Ljc5Njc1OVoiLCJiN2NmYzE3Mi01ZWFkLTQ3NWMtOGQ4MS00N2ZkNzFhZjg1ZT"
        "kiXQ=="
    ),
}

#: GET /nominations/{nomination_id}: Noor's, admitted
NOMINATION: dict[str, Any] = {
    "id": "6bd23da6-14c7-4ab0-bdea-c825707083e1",
    "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "nominee": _NOOR,
    "nominator": _PRIYA,
    "statement": (
        "Noor organises 40 tenant associations; renters have no voice here yet and she would bring "
        "it."
    ),
    "status": "admitted",
    "made_at": "2026-09-08T15:00:50.784484Z",
    "deadline": "2026-09-15T15:00:50.784484Z",
    "decided_at": "2026-09-08T21:07:33.123323Z",
    "votes_cast": 4,
    "admit_votes": 4,
    "decline_votes": 0,
    "rule": {"quorum": 4, "threshold": 0.6, "min_community_votes": 3},
    "debate_thread": {
        "id": "fb8692be-cfb5-5bf5-901b-e59c686973e3",
        "post_count": 4,
        "visible_post_count": 4,
    },
    "ballots": [
        {
            "voter": _RUTH,
            "choice": "admit",
            "reason": "renters need a voice",
            "for_organisation": False,
            "cast_at": "2026-09-08T15:29:06.424202Z",
            "changed_at": None,
            "changes": 0,
        },
        {
            "voter": _JONAS,
            "choice": "admit",
            "reason": "read her statement; convinced",
            "for_organisation": False,
            "cast_at": "2026-09-08T15:36:37.682160Z",
            "changed_at": "2026-09-08T21:02:02.189462Z",
            "changes": 1,
        },
    ],
}


# --- listening ------------------------------------------------------------------------------------
#: GET /communities/{community}/commitments
COMMITMENTS: dict[str, Any] = {
    "items": [
        {
            "id": "0dce971e-9b94-46a6-8cba-0e708c5a4b59",
            "text": (
                "Restore northern maintenance crews to 2025 levels and publish monthly outage "
                "minutes per district."
            ),
            "made_by": _MAYA,
            "made_at": "2026-09-14T01:10:39.544940Z",
            "due_on": "2026-10-31",
            "status": "fulfilled",
            "overdue": False,
            "progress": [
                {
                    "note": "Twelve crew posts advertised in the north.",
                    "by": _MAYA,
                    "at": "2026-12-10T00:12:24.322682Z",
                },
                {
                    "note": "First outage report published for September.",
                    "by": _TOM,
                    "at": "2026-12-19T00:21:39.383601Z",
                },
            ],
            "closed_by": _MAYA,
            "closed_at": "2026-12-25T00:30:54.626954Z",
            "closing_statement": (
                "Crews are back at 2025 levels; outage minutes are published monthly."
            ),
            "post_ids": [
                "e9a76e02-30bd-543e-bfd5-df3d6d6b81fd", "23cb8950-e349-471f-b538-c42b2b0db742",
            ],
        },
    ],
    "next": None,
}


# --- moderation -----------------------------------------------------------------------------------
#: GET /moderation-decisions/{decision_id}: reversed on appeal
MODERATION_DECISION: dict[str, Any] = {
    "id": "4b6bedd3-8f7b-4771-9f7e-2d344cd8c673",
    "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "side": "organisation",
    "action": "remove-post",
    "reason_code": "confidential",
    "statement": "The post quotes an internal document that names staff.",
    "post_ids": ["23cb8950-e349-471f-b538-c42b2b0db742"],
    "thread_id": None,
    "member_id": None,
    "affected_person_ids": ["dc4151ca-82d3-5e45-ac88-861913ad397a"],
    "automated_detection": False,
    "author_notified": True,
    "appeal": {"status": "reversed", "appellant_id": "dc4151ca-82d3-5e45-ac88-861913ad397a"},
}

#: GET /communities/{community}/moderation-log?limit=2
MODERATION_LOG: dict[str, Any] = {
    "items": [
        {
            "id": "4b6bedd3-8f7b-4771-9f7e-2d344cd8c673",
            "position": 120,
            "moderator": _LENA,
            "side": "organisation",
            "action": "remove-post",
            "reason_code": "confidential",
            "statement": "The post quotes an internal document that names staff.",
            "post_ids": ["23cb8950-e349-471f-b538-c42b2b0db742"],
            "thread_id": None,
            "member_id": None,
            "member": None,
            "affected_person_ids": ["dc4151ca-82d3-5e45-ac88-861913ad397a"],
            "automated_detection": False,
            "author_notified": True,
            "notice": None,
            "notified_at": None,
            "decided_at": "2026-09-11T17:55:35.576171Z",
            "appeal": {
                "status": "reversed",
                "appellant": _JONAS,
                "statement": (
                    "The memo names no one; it is the only evidence of the cuts. This is a "
                    "critical post removed by Northwind's own moderator."
                ),
                "reviewer": _BEA,
                "reasons": (
                    "No personal data is quoted; public interest outweighs confidentiality. "
                    "Restored."
                ),
                "lodged_at": "2026-09-11T20:59:15.052601Z",
                "decided_at": "2026-09-12T21:05:58.964621Z",
            },
        },
        {
            "id": "56e6f743-2154-4994-8e0f-5116f5effec6",
            "position": 361,
            "moderator": _BEA,
            "side": "community",
            "action": "hide-post",
            "reason_code": "spam",
            "statement": "Commercial advertising is not allowed in discussions.",
            "post_ids": ["369ea00e-2240-421f-84d0-bd6e4d1a813b"],
            "thread_id": None,
            "member_id": None,
            "member": None,
            "affected_person_ids": ["2f55761d-1735-54c5-8527-197c131225b8"],
            "automated_detection": True,
            "author_notified": True,
            "notice": None,
            "notified_at": None,
            "decided_at": "2026-12-04T23:51:12.435476Z",
            "appeal": {
                "status": "none",
                "appellant": None,
                "statement": None,
                "reviewer": None,
                "reasons": None,
                "lodged_at": None,
                "decided_at": None,
            },
        },
    ],
    "next": "bW9kZXJhdGlvbjozNjE",
}


# --- reports --------------------------------------------------------------------------------------
#: GET /communities/{community}/reports/listening, October 2026: from=2026-10-01T00:00:00Z
#: to=2026-11-01T00:00:00Z as_of=2026-11-01T00:00:00Z (the organisation's report,
#: /organisations/{organisation}/reports/listening with the same parameters, answered exactly the
#: same: the demo organisation has this one community)
LISTENING_REPORT: dict[str, Any] = {
    "communities": ["f74a2fc7-a1f6-58ee-b9d6-351e19f01613"],
    "as_of": {"position": 377, "time": "2026-11-01T00:00:00Z", "now": "2026-11-01T00:00:00Z"},
    "parameters": {"pile_on_members": 5, "pile_on_hours": 24.0},
    "period": {
        "from": "2026-10-01T00:00:00Z",
        "to": "2026-11-01T00:00:00Z",
        "member_threads": 5,
        "responded_threads": 3,
        "response_rate": 0.6,
        "time_to_first_response_hours": {
            "count": 3,
            "median": 111.96706523527777,
            "p90": 158.0340716413889,
            "mean": 125.97247387546297,
            "max": 158.0340716413889,
        },
        "unanswered": [
            {
                "thread_id": "7d32896a-82ad-4d00-888d-2c2a194d99be",
                "opened_at": "2026-10-06T13:31:39.941904Z",
                "kind": "question",
                "age_hours": 610.47223836,
            },
            {
                "thread_id": "b34ca668-41e1-4eab-9661-99634046c5a1",
                "opened_at": "2026-10-22T21:09:22.371949Z",
                "kind": "comment",
                "age_hours": 218.84378556972223,
            },
        ],
        "posts_addressed": {
            "posts": 67,
            "addressed": 3,
            "rate": 0.04477611940298507,
            "by_kind": {
                "question": {"posts": 2, "addressed": 1, "rate": 0.5},
                "concern": {"posts": 1, "addressed": 1, "rate": 1.0},
                "proposal": {"posts": 1, "addressed": 1, "rate": 1.0},
                "comment": {"posts": 63, "addressed": 0, "rate": 0.0},
            },
        },
        "dialogue_share": {"organisation_posts": 4, "replies_to_members": 4, "share": 1.0},
        "commitments": {
            "made": 0,
            "fulfilled": 0,
            "abandoned": 0,
            "overdue": 0,
            "open": 0,
            "median_days_to_fulfil": None,
        },
        "moderation": {
            "member_posts_hidden_or_removed": 0,
            "by_side": {},
            "by_reason": {},
            "removal_rate_concern": 0.0,
            "removal_rate_other": 0.0,
            "appeals": {
                "lodged": 0,
                "upheld": 0,
                "reversed": 0,
                "pending": 0,
                "reversal_rate": None,
            },
        },
        "pile_ons": [],
        "responders": [
            {
                "person_id": "15d0c8ac-1b13-5198-8e3c-fb72adbed4ee",
                "replies_to_members": 0,
                "median_hours_to_respond": None,
            },
            {
                "person_id": "719bee5e-92dc-5beb-b5c7-145866dec64a",
                "replies_to_members": 2,
                "median_hours_to_respond": 135.00056843833335,
            },
        ],
    },
    "previous_period": {
        "from": "2026-08-31T00:00:00Z",
        "to": "2026-10-01T00:00:00Z",
        "member_threads": 5,
        "responded_threads": 4,
        "response_rate": 0.8,
        "time_to_first_response_hours": {
            "count": 4,
            "median": 109.45005619319444,
            "p90": 141.31859943583333,
            "mean": 107.94380215347222,
            "max": 141.31859943583333,
        },
        "unanswered": [
            {
                "thread_id": "6fc35b19-f4ed-4069-b76d-45a7ed01d35f",
                "opened_at": "2026-09-21T13:09:38.755051Z",
                "kind": "question",
                "age_hours": 970.8392347080555,
            },
        ],
        "posts_addressed": {
            "posts": 48,
            "addressed": 5,
            "rate": 0.10416666666666667,
            "by_kind": {
                "question": {"posts": 2, "addressed": 1, "rate": 0.5},
                "concern": {"posts": 1, "addressed": 1, "rate": 1.0},
                "proposal": {"posts": 1, "addressed": 1, "rate": 1.0},
                "comment": {"posts": 44, "addressed": 2, "rate": 0.045454545454545456},
            },
        },
        "dialogue_share": {"organisation_posts": 4, "replies_to_members": 3, "share": 0.75},
        "commitments": {
            "made": 1,
            "fulfilled": 0,
            "abandoned": 0,
            "overdue": 1,
            "open": 1,
            "median_days_to_fulfil": None,
        },
        "moderation": {
            "member_posts_hidden_or_removed": 1,
            "by_side": {"organisation": 1},
            "by_reason": {"confidential": 1},
            "removal_rate_concern": 0.0,
            "removal_rate_other": 0.02127659574468085,
            "appeals": {
                "lodged": 1,
                "upheld": 0,
                "reversed": 1,
                "pending": 0,
                "reversal_rate": 1.0,
            },
        },
        "pile_ons": [
            {
                "thread_id": "f499c8bc-f724-4590-a7d5-940b41e89941",
                "started_at": "2026-09-11T08:47:35.576171Z",
                "responded_before": False,
                "response_after_hours": 64.30649679166666,
            },
            {
                "thread_id": "6fc35b19-f4ed-4069-b76d-45a7ed01d35f",
                "started_at": "2026-09-22T12:49:50.713637Z",
                "responded_before": False,
                "response_after_hours": None,
            },
        ],
        "responders": [
            {
                "person_id": "15d0c8ac-1b13-5198-8e3c-fb72adbed4ee",
                "replies_to_members": 0,
                "median_hours_to_respond": None,
            },
            {
                "person_id": "719bee5e-92dc-5beb-b5c7-145866dec64a",
                "replies_to_members": 2,
                "median_hours_to_respond": 109.45005619319444,
            },
        ],
    },
}


# --- auditors -------------------------------------------------------------------------------------
#: GET /audit/threads/{thread_id}?as_of=2026-10-01T00:00:00Z
THREAD_THEN: dict[str, Any] = {
    "id": "2bb5e679-88f3-4c55-bdb8-059f78029c08",
    "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "title": "A community solar co-op on school roofs",
    "kind": "proposal",
    "opener": _AMARA,
    "opened_at": "2026-09-23T23:04:05.212274Z",
    "last_activity_at": "2026-09-28T23:03:25.586988Z",
    "post_count": 12,
    "visible_post_count": 12,
    "org_reply_count": 1,
    "org_responded": True,
    "locked": False,
    "nomination_id": None,
    "audience": "auditor",
    "posts": [
        {
            "id": "744932c1-8922-5089-a43f-02d66710bf2a",
            "parent_id": None,
            "kind": "proposal",
            "author": _AMARA,
            "for_organisation": False,
            "published_at": "2026-09-23T23:04:05.212274Z",
            "edited_at": None,
            "acknowledgement_count": 1,
            "state": "visible",
            "body": (
                "Northwind could lease school roofs, and members buy shares. We have three schools "
                "keen."
            ),
            "retracted": False,
            "moderation": None,
            "versions": [
                {
                    "version": 1,
                    "body": (
                        "Northwind could lease school roofs, and members buy shares. We have three "
                        "schools keen."
                    ),
                    "actor": _AMARA,
                    "occurred_at": "2026-09-23T23:04:05.212274Z",
                },
            ],
            "history": [],
            "acknowledgements": [{"by": _TOM, "at": "2026-09-28T23:12:32.983935Z"}],
            "replies": [
                {
                    "id": "0df5bc80-4d08-485c-b5e9-2c118a8ca421",
                    "parent_id": "744932c1-8922-5089-a43f-02d66710bf2a",
                    "kind": "comment",
                    "author": _NOOR,
                    "for_organisation": False,
                    "published_at": "2026-09-24T09:15:23.006477Z",
                    "edited_at": None,
                    "acknowledgement_count": 0,
                    "state": "visible",
                    "body": "I asked on the phone and got three different answers.",
                    "retracted": False,
                    "moderation": None,
                    "versions": [
                        {
                            "version": 1,
                            "body": "I asked on the phone and got three different answers.",
                            "actor": _NOOR,
                            "occurred_at": "2026-09-24T09:15:23.006477Z",
                        },
                    ],
                    "history": [],
                    "acknowledgements": [],
                    "replies": [],
                },
            ],
        },
    ],
    "as_of": {"position": 377, "time": "2026-10-01T00:00:00+00:00"},
}

#: GET /audit/threads/{thread_id}?as_of=2026-10-01T00:00:00Z&audience=public
PUBLIC_THREAD_THEN: dict[str, Any] = {
    "id": "2bb5e679-88f3-4c55-bdb8-059f78029c08",
    "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "title": "A community solar co-op on school roofs",
    "kind": "proposal",
    "opener": _AMARA,
    "opened_at": "2026-09-23T23:04:05.212274Z",
    "last_activity_at": "2026-09-28T23:03:25.586988Z",
    "post_count": 12,
    "visible_post_count": 12,
    "org_reply_count": 1,
    "org_responded": True,
    "locked": False,
    "nomination_id": None,
    "audience": "public",
    "posts": [
        {
            "id": "744932c1-8922-5089-a43f-02d66710bf2a",
            "parent_id": None,
            "kind": "proposal",
            "author": _AMARA,
            "for_organisation": False,
            "published_at": "2026-09-23T23:04:05.212274Z",
            "edited_at": None,
            "acknowledgement_count": 1,
            "state": "visible",
            "body": (
                "Northwind could lease school roofs, and members buy shares. We have three schools "
                "keen."
            ),
            "placeholder": None,
            "replies": [
                {
                    "id": "0df5bc80-4d08-485c-b5e9-2c118a8ca421",
                    "parent_id": "744932c1-8922-5089-a43f-02d66710bf2a",
                    "kind": "comment",
                    "author": _NOOR,
                    "for_organisation": False,
                    "published_at": "2026-09-24T09:15:23.006477Z",
                    "edited_at": None,
                    "acknowledgement_count": 0,
                    "state": "visible",
                    "body": "I asked on the phone and got three different answers.",
                    "placeholder": None,
                    "replies": [],
                },
            ],
        },
    ],
    "as_of": {"position": 377, "time": "2026-10-01T00:00:00+00:00"},
}

#: GET /audit/threads/{thread_id}/history?as_of=2026-10-01T00:00:00Z
THREAD_HISTORY: dict[str, Any] = {
    "thread_id": "2bb5e679-88f3-4c55-bdb8-059f78029c08",
    "as_of": {"position": 377, "time": "2026-10-01T00:00:00+00:00"},
    "events": [
        {
            "position": 149,
            "occurred_at": "2026-09-23T23:04:05.212274Z",
            "recorded_at": "2026-11-27T03:14:32.790672+00:00",
            "event": "Thread.Opened",
            "aggregate_id": "2bb5e679-88f3-4c55-bdb8-059f78029c08",
            "version": 1,
            "actor": {"id": "350e209f-6c72-5255-b194-e810ed591c04", "handle": "amara"},
            "command_id": None,
            "details": {
                "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
                "kind": "proposal",
                "title": "A community solar co-op on school roofs",
                "nomination_id": None,
            },
        },
        {
            "position": 150,
            "occurred_at": "2026-09-23T23:04:05.212274Z",
            "recorded_at": "2026-11-27T03:14:32.790775+00:00",
            "event": "Post.Published",
            "aggregate_id": "744932c1-8922-5089-a43f-02d66710bf2a",
            "version": 1,
            "actor": {"id": "350e209f-6c72-5255-b194-e810ed591c04", "handle": "amara"},
            "command_id": None,
            "details": {
                "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
                "thread_id": "2bb5e679-88f3-4c55-bdb8-059f78029c08",
                "parent_id": None,
                "kind": "proposal",
                "body": (
                    "Northwind could lease school roofs, and members buy shares. We have three "
                    "schools keen."
                ),
                "for_organisation": False,
            },
        },
    ],
}

#: GET /audit/communities/{community}/roster?as_of=2026-10-01T00:00:00Z
ROSTER_THEN: dict[str, Any] = {
    "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "members": [
        {
            "person_id": "350e209f-6c72-5255-b194-e810ed591c04",
            "membership_id": "5cd23a4f-81f4-569c-bbc5-fac7ad8cc267",
            "handle": "amara",
            "display_name": "Amara Osei",
            "is_bot": False,
            "status": "active",
            "roles": ["member"],
            "moderator_side": None,
            "joined_via": "direct-invitation",
            "joined_at": "2026-09-03T12:38:14.835761Z",
        },
        {
            "person_id": "d4df4dad-26ea-5d54-9544-367861d9c802",
            "membership_id": "48b99a0b-f227-559b-8b3f-fdc59b7782c3",
            "handle": "bea",
            "display_name": "Bea Lindqvist",
            "is_bot": False,
            "status": "active",
            "roles": ["member", "moderator"],
            "moderator_side": "community",
            "joined_via": "direct-invitation",
            "joined_at": "2026-09-07T10:01:10.347468Z",
        },
    ],
    "as_of": {"position": 377, "time": "2026-10-01T00:00:00+00:00"},
}

#: GET /audit/communities/{community}/moderation-log?as_of=2026-10-01T00:00:00Z
MODERATION_LOG_THEN: dict[str, Any] = {
    "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
    "items": [
        {
            "id": "4b6bedd3-8f7b-4771-9f7e-2d344cd8c673",
            "position": 120,
            "moderator": _LENA,
            "side": "organisation",
            "action": "remove-post",
            "reason_code": "confidential",
            "statement": "The post quotes an internal document that names staff.",
            "post_ids": ["23cb8950-e349-471f-b538-c42b2b0db742"],
            "thread_id": None,
            "member_id": None,
            "member": None,
            "affected_person_ids": ["dc4151ca-82d3-5e45-ac88-861913ad397a"],
            "automated_detection": False,
            "author_notified": True,
            "notice": None,
            "notified_at": None,
            "decided_at": "2026-09-11T17:55:35.576171Z",
            "appeal": {
                "status": "reversed",
                "appellant": _JONAS,
                "statement": (
                    "The memo names no one; it is the only evidence of the cuts. This is a "
                    "critical post removed by Northwind's own moderator."
                ),
                "reviewer": _BEA,
                "reasons": (
                    "No personal data is quoted; public interest outweighs confidentiality. "
                    "Restored."
                ),
                "lodged_at": "2026-09-11T20:59:15.052601Z",
                "decided_at": "2026-09-12T21:05:58.964621Z",
            },
        },
    ],
    "as_of": {"position": 377, "time": "2026-10-01T00:00:00+00:00"},
}

#: GET /audit/checkpoints
CHECKPOINTS: dict[str, Any] = {"items": [_CHECKPOINT_1, _CHECKPOINT_2]}

#: GET /audit/proofs/inclusion?position=150: the solar thread's opening post
INCLUSION_PROOF: dict[str, Any] = {
    "leaf_hash": "110469279092b8ad82649d040f849f11c6f571e2298f4502f52425bdd46fadb5",
    "index": 149,
    "tree_size": 377,
    "proof": [
        "3e376d13fb3eee07e192cb703ac5d85e83a27f447496dd337dd2e45faffef213",
        "9564705e0aea43dc258b1fd82efd8cf779bf5a6786e87dfddc44e15830966053",
    ],
    "root_hash": "c5f32beefd0eeeceb6ec093fed620407a4ac72a193e3d2b39e3ce6268dd18d8b",
    "position": 150,
    "event": {
        "position": 150,
        "originator_id": "744932c1-8922-5089-a43f-02d66710bf2a",
        "originator_version": 1,
        "topic": "ledger.domain.post:Post.Published",
        "state_b64": (
            "eyJ0aW1lc3RhbXAiOiIyMDI2LTExLTI3VDAzOjE0OjMyLjc5MDc3NSswMDowMCIsIm9yaWdpbmF0b3JfdG9waW"
            "MiOiJsZWRnZXIuZG9tYWluLnBvc3Q6UG9zdCIsImNvbW11bml0eV9pZCI6ImY3NGEyZmM3LWExZjYtNThlZS1i"
            "OWQ2LTM1MWUxOWYwMTYxMyIsInRocmVhZF9pZCI6IjJiYjVlNjc5LTg4ZjMtNGM1NS1iZGI4LTA1OWY3ODAyOW"
            "MwOCIsInBhcmVudF9pZCI6bnVsbCwia2luZCI6InByb3Bvc2FsIiwiYm9keSI6Ik5vcnRod2luZCBjb3VsZCBs"
            "ZWFzZSBzY2hvb2wgcm9vZnMsIGFuZCBtZW1iZXJzIGJ1eSBzaGFyZXMuIFdlIGhhdmUgdGhyZWUgc2Nob29scy"
            "BrZWVuLiIsImZvcl9vcmdhbmlzYXRpb24iOmZhbHNlLCJhY3QiOnsiYWN0b3JfaWQiOiIzNTBlMjA5Zi02Yzcy"
            "LTUyNTUtYjE5NC1lODEwZWQ1OTFjMDQiLCJvY2N1cnJlZF9hdCI6IjIwMjYtMDktMjNUMjM6MDQ6MDUuMjEyMj"
            "c0KzAwOjAwIiwiY29tbWFuZF9pZCI6bnVsbH19"
        ),
    },
    "checkpoint": _CHECKPOINT_2,
    "verified": True,
}

#: GET /audit/proofs/consistency?old=1&new=2
CONSISTENCY_PROOF: dict[str, Any] = {
    "old_size": 373,
    "new_size": 377,
    "old_root": "8b636766437e4e3dd48c8f1488d34b9c2fd837880728ada039f712257bc50e61",
    "new_root": "c5f32beefd0eeeceb6ec093fed620407a4ac72a193e3d2b39e3ce6268dd18d8b",
    "proof": [
        "92f9f91ca2ee428a1e3724e5b326ada2aa585ada45b6300482df10a60e6a4963",
        "d7260dc9c6e1e68775598dacc9507f6e8b905048243fec5e06adeb3a4232e929",
    ],
    "from_checkpoint": _CHECKPOINT_1,
    "to_checkpoint": _CHECKPOINT_2,
    "verified": True,
}

#: GET /audit/exports/moderation?format=csv (text/csv)
MODERATION_CSV: str = _csv([
    [
        "decision_id", "position", "community_id", "community_slug", "decided_at", "action",
        "reason_code", "statement", "moderator_side", "automated_detection", "author_notified",
        "notice", "notified_at", "post_ids", "thread_id", "member_id", "appeal_status",
        "appeal_lodged_at", "appeal_decided_at", "appeal_reasons",
    ],
    [
        "4b6bedd3-8f7b-4771-9f7e-2d344cd8c673", "120", "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
        "northwind-voices", "2026-09-11T17:55:35.576171Z", "remove-post", "confidential",
        "The post quotes an internal document that names staff.", "organisation", "false", "true",
        "", "", "23cb8950-e349-471f-b538-c42b2b0db742", "", "", "reversed",
        "2026-09-11T20:59:15.052601Z", "2026-09-12T21:05:58.964621Z",
        "No personal data is quoted; public interest outweighs confidentiality. Restored.",
    ],
    [
        "56e6f743-2154-4994-8e0f-5116f5effec6", "361", "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
        "northwind-voices", "2026-12-04T23:51:12.435476Z", "hide-post", "spam",
        "Commercial advertising is not allowed in discussions.", "community", "true", "true", "",
        "", "369ea00e-2240-421f-84d0-bd6e4d1a813b", "", "", "none", "", "", "",
    ],
])

#: GET /audit/exports/moderation?format=jsonl (application/jsonl)
MODERATION_JSONL: str = _jsonl([
    {
        "decision_id": "4b6bedd3-8f7b-4771-9f7e-2d344cd8c673",
        "position": 120,
        "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
        "community_slug": "northwind-voices",
        "decided_at": "2026-09-11T17:55:35.576171Z",
        "action": "remove-post",
        "reason_code": "confidential",
        "statement": "The post quotes an internal document that names staff.",
        "moderator_side": "organisation",
        "automated_detection": False,
        "author_notified": True,
        "notice": None,
        "notified_at": None,
        "post_ids": ["23cb8950-e349-471f-b538-c42b2b0db742"],
        "thread_id": None,
        "member_id": None,
        "appeal_status": "reversed",
        "appeal_lodged_at": "2026-09-11T20:59:15.052601Z",
        "appeal_decided_at": "2026-09-12T21:05:58.964621Z",
        "appeal_reasons": (
            "No personal data is quoted; public interest outweighs confidentiality. Restored."
        ),
    },
    {
        "decision_id": "56e6f743-2154-4994-8e0f-5116f5effec6",
        "position": 361,
        "community_id": "f74a2fc7-a1f6-58ee-b9d6-351e19f01613",
        "community_slug": "northwind-voices",
        "decided_at": "2026-12-04T23:51:12.435476Z",
        "action": "hide-post",
        "reason_code": "spam",
        "statement": "Commercial advertising is not allowed in discussions.",
        "moderator_side": "community",
        "automated_detection": True,
        "author_notified": True,
        "notice": None,
        "notified_at": None,
        "post_ids": ["369ea00e-2240-421f-84d0-bd6e4d1a813b"],
        "thread_id": None,
        "member_id": None,
        "appeal_status": "none",
        "appeal_lodged_at": None,
        "appeal_decided_at": None,
        "appeal_reasons": None,
    },
])

#: GET /audit/exports/moderation?format=dsa (application/jsonl, up to 100 statements a line)
MODERATION_DSA: str = _jsonl([
    {
        "statements": [
            {
                "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
                "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
                "incompatible_content_ground": (
                    "Community rules: no publication of confidential information or of information "
                    "about identifiable people without their consent."
                ),
                "incompatible_content_explanation": (
                    "A moderator found that the content disclosed confidential information, which "
                    "the community rules forbid. The post was removed. The decision was reversed "
                    "on appeal."
                ),
                "category": "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
                "content_type": ["CONTENT_TYPE_TEXT"],
                "content_date": "2026-09-11",
                "application_date": "2026-09-11",
                "decision_facts": "The post quotes an internal document that names staff.",
                "source_type": "SOURCE_VOLUNTARY",
                "automated_detection": "No",
                "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
                "puid": "dl-60cacfe2ec8722cd681ea98e1b052c58",
                "end_date_visibility_restriction": "2026-09-12",
            },
        ],
    },
])

#: GET /audit/exports/events (application/jsonl)
EVENTS_JSONL: str = _jsonl([
    {
        "position": 1,
        "originator_id": "b0c292a1-8bc2-58e2-84ff-564de3b76256",
        "originator_version": 1,
        "topic": "ledger.domain.person:Person.Registered",
        "state": {
            "timestamp": "2026-11-27T03:14:32.707260+00:00",
            "originator_topic": "ledger.domain.person:Person",
            "handle": "maya",
            "display_name": "Maya Okafor",
            "is_bot": False,
            "act": {
                "actor_id": "b0c292a1-8bc2-58e2-84ff-564de3b76256",
                "occurred_at": "2026-09-01T08:30:00+00:00",
                "command_id": None,
            },
        },
    },
    {
        "position": 2,
        "originator_id": "719bee5e-92dc-5beb-b5c7-145866dec64a",
        "originator_version": 1,
        "topic": "ledger.domain.person:Person.Registered",
        "state": {
            "timestamp": "2026-11-27T03:14:32.707981+00:00",
            "originator_topic": "ledger.domain.person:Person",
            "handle": "tom",
            "display_name": "Tom Reyes",
            "is_bot": False,
            "act": {
                "actor_id": "719bee5e-92dc-5beb-b5c7-145866dec64a",
                "occurred_at": "2026-09-01T08:30:00+00:00",
                "command_id": None,
            },
        },
    },
])


# --- live changes ---------------------------------------------------------------------------------
#: GET /communities/{community}/events?since=148 (text/event-stream)
EVENT_STREAM: str = (
    "id: 149\r\n"
    "event: change\r\n"
    'data: {"position":149,"kind":"Thread.Opened","id":"2bb5e679-88f3-4c55-bdb8-059f78029c08"}\r\n'
    "\r\n"
    "id: 150\r\n"
    "event: change\r\n"
    'data: {"position":150,"kind":"Post.Published","id":"744932c1-8922-5089-a43f-02d66710bf2a"}\r\n'
    "\r\n"
)
