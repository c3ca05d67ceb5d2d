"""The community directory and each community's roster with roles."""

from __future__ import annotations

from projections.change import Change
from projections.store import Batch
from projections.tables import INT, REAL, TEXT, Table
from projections.view import View

COUNTED = ("active", "suspended")


class DirectoryView(View):
    name = "directory"
    tables = (
        Table("organisations", (("id", TEXT), ("slug", TEXT), ("name", TEXT), ("founded_us", INT),
                                ("position", INT)), key=("id",)),
        Table("representatives", (("organisation_id", TEXT), ("person_id", TEXT),
                                  ("appointed_us", INT), ("appointed_position", INT),
                                  ("withdrawn_us", INT), ("withdrawn_position", INT)),
              key=("organisation_id", "person_id")),
        Table("people", (("id", TEXT), ("handle", TEXT), ("display_name", TEXT), ("is_bot", INT),
                         ("registered_us", INT), ("position", INT)), key=("id",),
              indexes=(("handle",),)),
        Table("communities", (("id", TEXT), ("organisation_id", TEXT), ("slug", TEXT),
                              ("name", TEXT),
                              ("access", TEXT), ("quorum", INT), ("threshold", REAL),
                              ("min_community_votes", INT), ("deadline_days", INT),
                              ("direct_invitations", INT), ("member_count", INT),
                              ("created_us", INT), ("position", INT)), key=("id",),
              indexes=(("organisation_id",),)),
        Table("memberships", (("community_id", TEXT), ("person_id", TEXT), ("id", TEXT),
                              ("status", TEXT), ("roles", TEXT), ("moderator_side", TEXT),
                              ("joined_via", TEXT), ("invitation", TEXT),
                              ("open_nomination_id", TEXT), ("joined_us", INT),
                              ("updated_us", INT), ("position", INT)),
              key=("id",), indexes=(("community_id", "person_id"), ("person_id",))),
    )


on = DirectoryView.on


@on("Organisation.Founded")
def organisation_founded(batch: Batch, c: Change) -> None:
    s = c.state
    batch.put("organisations", {"id": c.id, "slug": s["slug"], "name": s["name"],
                                "founded_us": c.occurred_us, "position": c.position})
    batch.put("representatives", {"organisation_id": c.id, "person_id": s["founder_id"],
                                  "appointed_us": c.occurred_us,
                                  "appointed_position": c.position})


@on("Organisation.RepresentativeAppointed", "Organisation.RepresentativeWithdrawn")
def representative_changed(batch: Batch, c: Change) -> None:
    appointed = c.kind.endswith("Appointed")
    row = batch.get("representatives", c.id, c.state["person_id"]) or {
        "organisation_id": c.id, "person_id": c.state["person_id"]}
    if appointed:
        row.update(appointed_us=c.occurred_us, appointed_position=c.position,
                   withdrawn_us=None, withdrawn_position=None)
    else:
        row.update(withdrawn_us=c.occurred_us, withdrawn_position=c.position)
    batch.put("representatives", row)


@on("Person.Registered")
def person_registered(batch: Batch, c: Change) -> None:
    s = c.state
    batch.put("people", {"id": c.id, "handle": s["handle"], "display_name": s["display_name"],
                         "is_bot": int(s["is_bot"]), "registered_us": c.occurred_us,
                         "position": c.position})


@on("Community.Created", "Community.AdmissionRuleChanged")
def community_changed(batch: Batch, c: Change) -> None:
    s = c.state
    row = batch.get("communities", c.id) or {
        "id": c.id, "organisation_id": s["organisation_id"], "slug": s["slug"],
        "name": s["name"], "access": s["access"], "member_count": 0,
        "created_us": c.occurred_us, "position": c.position}
    rule = s["rule"]
    row.update(quorum=rule["quorum"], threshold=rule["threshold"],
               min_community_votes=rule["min_community_votes"],
               deadline_days=rule["deadline_days"],
               direct_invitations=int(rule["direct_invitations"]))
    batch.put("communities", row)


@on("Membership.Started")
def membership_started(batch: Batch, c: Change) -> None:
    s = c.state
    batch.put("memberships", {
        "community_id": s["community_id"], "person_id": s["person_id"], "id": c.id,
        "status": "outside", "roles": "", "moderator_side": None, "joined_via": None,
        "invitation": None, "open_nomination_id": None, "joined_us": None,
        "updated_us": c.occurred_us, "position": c.position})


def _membership(batch: Batch, c: Change) -> dict[str, object]:
    row = batch.get("memberships", c.id)
    assert row is not None, f"membership {c.id} changed before it started"
    row["updated_us"] = c.occurred_us
    return row


def _set_status(batch: Batch, row: dict[str, object], status: str) -> None:
    before = row["status"] in COUNTED
    after = status in COUNTED
    row["status"] = status
    if before != after:
        community = batch.get("communities", row["community_id"])
        if community is not None:
            community["member_count"] += 1 if after else -1
            batch.put("communities", community)


@on("Membership.Joined")
def membership_joined(batch: Batch, c: Change) -> None:
    row = _membership(batch, c)
    _set_status(batch, row, "active")
    row.update(roles=",".join(sorted(c.state["roles"])), joined_via=c.state["via"],
               invitation=None, joined_us=c.occurred_us)
    batch.put("memberships", row)


@on("Membership.Left")
def membership_left(batch: Batch, c: Change) -> None:
    row = _membership(batch, c)
    _set_status(batch, row, "left")
    row.update(roles="", moderator_side=None)
    batch.put("memberships", row)


@on("Membership.Suspended", "Membership.Reinstated")
def membership_suspension(batch: Batch, c: Change) -> None:
    row = _membership(batch, c)
    _set_status(batch, row, "suspended" if c.kind.endswith("Suspended") else "active")
    batch.put("memberships", row)


@on("Membership.Nominated", "Membership.NominationClosed")
def membership_nomination(batch: Batch, c: Change) -> None:
    row = _membership(batch, c)
    row["open_nomination_id"] = (c.state["nomination_id"]
                                 if c.kind.endswith("Nominated") else None)
    batch.put("memberships", row)


@on("Membership.Invited", "Membership.InvitationDeclined")
def membership_invitation(batch: Batch, c: Change) -> None:
    row = _membership(batch, c)
    if c.kind.endswith("Invited"):
        row.update(invitation=c.state["via"], open_nomination_id=None)
    else:
        row["invitation"] = None
    batch.put("memberships", row)


@on("Membership.RoleGranted", "Membership.RoleRevoked")
def membership_role(batch: Batch, c: Change) -> None:
    row = _membership(batch, c)
    roles = set(filter(None, str(row["roles"]).split(",")))
    role = c.state["role"]
    if c.kind.endswith("Granted"):
        roles.add(role)
        if role == "moderator":
            row["moderator_side"] = c.state["moderator_side"]
    else:
        roles.discard(role)
        if role == "moderator":
            row["moderator_side"] = None
    row["roles"] = ",".join(sorted(roles))
    batch.put("memberships", row)
