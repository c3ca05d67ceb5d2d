"""People, organisations, communities, memberships, roles and invitations."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api import examples
from api.http import page, receipt_response, view_response, wait_for
from api.routes.common import (
    COMMAND_RESPONSES,
    After,
    IdempotencyKey,
    Limit,
    MinPosition,
    Svc,
    Who,
    community_id,
    read_responses,
    scoped,
)
from api.schemas import (
    CommunityIn,
    OrganisationIn,
    PersonIn,
    PersonRefIn,
    ReceiptOut,
    RoleIn,
    RuleIn,
    View,
)
from api.services import require_role, require_writer, visible_community
from api.tokens import TokenRole
from ledger.application import DialogueLedger
from ledger.domain import AdmissionRule, Organisation, Person
from ledger.errors import NotFound

router = APIRouter(tags=["communities and memberships"])
REP = TokenRole.REPRESENTATIVE


# --- people and organisations -----------------------------------------------------------
@router.post("/people", response_model=ReceiptOut, status_code=201,
             responses=COMMAND_RESPONSES, summary="Register a person")
def register_person(body: PersonIn, svc: Svc, who: Who,
                    key: IdempotencyKey = None) -> Response:
    require_writer(who)
    receipt = svc.commands.call(
        DialogueLedger.register_person, body.handle, body.display_name, is_bot=body.is_bot,
        actor_id=who.person_id, command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/people/{receipt.id}")


@router.get("/people/{person}", response_model=View,
            responses=read_responses(examples.PERSON),
            summary="A person's public profile")
def get_person(person: str, request: Request, svc: Svc, who: Who) -> Response:
    found = svc.ledger.get(Person, svc.ledger.person_id(person))
    return view_response(request, svc, {"id": str(found.id), "handle": found.handle,
                                        "display_name": found.display_name,
                                        "is_bot": found.is_bot})


@router.post("/organisations", response_model=ReceiptOut, status_code=201,
             responses=COMMAND_RESPONSES, summary="Found an organisation")
def found_organisation(body: OrganisationIn, svc: Svc, who: Who,
                       key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    receipt = svc.commands.call(
        DialogueLedger.found_organisation, body.name, body.slug, actor_id=who.person_id,
        command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/organisations/{body.slug}")


@router.get("/organisations/{organisation}", response_model=View,
            responses=read_responses(examples.ORGANISATION),
            summary="An organisation: its name, slug and representatives")
def get_organisation(organisation: str, request: Request, svc: Svc, who: Who,
                     min_position: MinPosition = None) -> Response:
    wait_for(svc, min_position)
    found = svc.ledger.get(Organisation, svc.ledger.organisation_id(organisation))
    people = sorted((svc.ledger.get(Person, p) for p in found.representatives),
                    key=lambda p: p.handle)
    return view_response(request, svc, {
        "id": str(found.id), "name": found.name, "slug": found.slug,
        "representatives": [{"id": str(p.id), "handle": p.handle,
                             "display_name": p.display_name} for p in people]})


@router.post("/organisations/{organisation}/representatives", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Appoint a representative")
def appoint_representative(organisation: str, body: PersonRefIn, svc: Svc, who: Who,
                           key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    receipt = svc.commands.call(
        DialogueLedger.appoint_representative, svc.ledger.organisation_id(organisation),
        svc.ledger.person_id(body.person), actor_id=who.person_id, command_id=scoped(who, key))
    return receipt_response(receipt)


# --- communities ------------------------------------------------------------------------
@router.get("/communities", response_model=View,
            responses=read_responses(examples.COMMUNITIES),
            summary="The community directory (only what you may see)")
def list_communities(request: Request, svc: Svc, who: Who, limit: Limit = 50,
                     after: After = None, min_position: MinPosition = None) -> Response:
    wait_for(svc, min_position)
    shown = []
    for community in svc.reader.communities():
        try:
            visible_community(svc, who, svc.ledger.community_id(community["id"]))
        except NotFound:
            continue
        shown.append(community)
    return view_response(request, svc, page(shown, lambda c: [c["slug"], c["id"]], limit,
                                            after))


@router.post("/communities", response_model=ReceiptOut, status_code=201,
             responses=COMMAND_RESPONSES, summary="Create a community")
def create_community(body: CommunityIn, svc: Svc, who: Who,
                     key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    rule = AdmissionRule(**body.admission_rule.model_dump()) if body.admission_rule else None
    receipt = svc.commands.call(
        DialogueLedger.create_community, svc.ledger.organisation_id(body.organisation), body.name,
        body.slug, access=body.access, rule=rule, actor_id=who.person_id,
        command_id=scoped(who, key))
    svc.community_refs.pop(body.slug, None)  # the slug alone may now name one more
    return receipt_response(receipt, created=f"/communities/{receipt.id}")


@router.get("/communities/{community}", response_model=View,
            responses=read_responses(examples.COMMUNITY),
            summary="One community, by id or slug")
def get_community(community: str, request: Request, svc: Svc, who: Who,
                  min_position: MinPosition = None) -> Response:
    cid = community_id(svc, community, who)
    wait_for(svc, min_position)
    return view_response(request, svc, svc.reader.community(str(cid)))


@router.put("/communities/{community}/admission-rule", response_model=ReceiptOut,
            responses=COMMAND_RESPONSES, summary="Change the admission rule")
def change_rule(community: str, body: RuleIn, svc: Svc, who: Who,
                key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    receipt = svc.commands.call(
        DialogueLedger.change_admission_rule, cid, AdmissionRule(**body.model_dump()),
        actor_id=who.person_id, command_id=scoped(who, key))
    return receipt_response(receipt)


# --- memberships ------------------------------------------------------------------------
@router.get("/communities/{community}/members", response_model=View,
            responses=read_responses(examples.ROSTER), summary="The roster, with roles")
def roster(community: str, request: Request, svc: Svc, who: Who, limit: Limit = 100,
           after: After = None, min_position: MinPosition = None) -> Response:
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    wait_for(svc, min_position)
    members = svc.reader.roster(str(cid))
    return view_response(request, svc, page(members, lambda m: [m["handle"] or "", m["person_id"]],
                                            limit, after))


@router.post("/communities/{community}/members", response_model=ReceiptOut,
             status_code=201, responses=COMMAND_RESPONSES,
             summary="Join an open community")
def join(community: str, svc: Svc, who: Who, key: IdempotencyKey = None) -> Response:
    require_writer(who)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    receipt = svc.commands.call(
        DialogueLedger.join_community, cid, actor_id=who.person_id, command_id=scoped(who, key))
    return receipt_response(receipt, created=f"/communities/{community}/members")


@router.post("/communities/{community}/leave", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Leave a community")
def leave(community: str, svc: Svc, who: Who, key: IdempotencyKey = None) -> Response:
    require_writer(who)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    return receipt_response(svc.commands.call(
        DialogueLedger.leave_community, cid, actor_id=who.person_id, command_id=scoped(who, key)))


@router.post("/communities/{community}/roles", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Grant a role")
def grant_role(community: str, body: RoleIn, svc: Svc, who: Who,
               key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    return receipt_response(svc.commands.call(
        DialogueLedger.grant_role, cid, svc.ledger.person_id(body.person), body.role,
        actor_id=who.person_id, command_id=scoped(who, key)))


@router.post("/communities/{community}/roles/revocations", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Revoke a role")
def revoke_role(community: str, body: RoleIn, svc: Svc, who: Who,
                key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    return receipt_response(svc.commands.call(
        DialogueLedger.revoke_role, cid, svc.ledger.person_id(body.person), body.role,
        actor_id=who.person_id, command_id=scoped(who, key)))


@router.post("/communities/{community}/invitations", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Invite someone directly")
def invite(community: str, body: PersonRefIn, svc: Svc, who: Who,
           key: IdempotencyKey = None) -> Response:
    require_role(who, REP)
    cid = visible_community(svc, who, community_id(svc, community, who)).id
    return receipt_response(svc.commands.call(
        DialogueLedger.invite_directly, cid, svc.ledger.person_id(body.person),
        actor_id=who.person_id, command_id=scoped(who, key)))


@router.post("/communities/{community}/invitation/acceptance", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Accept your invitation")
def accept(community: str, svc: Svc, who: Who, key: IdempotencyKey = None) -> Response:
    require_writer(who)
    cid = community_id(svc, community, who, invited=True)
    return receipt_response(svc.commands.call(
        DialogueLedger.accept_invitation, cid, actor_id=who.person_id, command_id=scoped(who, key)))


@router.post("/communities/{community}/invitation/refusal", response_model=ReceiptOut,
             responses=COMMAND_RESPONSES, summary="Decline your invitation")
def decline(community: str, svc: Svc, who: Who, key: IdempotencyKey = None) -> Response:
    require_writer(who)
    cid = community_id(svc, community, who, invited=True)
    return receipt_response(svc.commands.call(
        DialogueLedger.decline_invitation, cid, actor_id=who.person_id,
        command_id=scoped(who, key)))
