"""The demo dialogue: Northwind Energy opens an invitation-only community of the
influencers and critics it wants to hear from, and the record shows how it listened.

Everything is recorded through the ledger's commands, on a story clock that runs from
1 September 2026 over about seven weeks.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from ledger.application import DialogueLedger
from ledger.domain import (
    Access,
    Action,
    AdmissionRule,
    AppealOutcome,
    Choice,
    PostKind,
    ReasonCode,
    Role,
    Thread,
)
from ledger.domain.base import debate_thread_id, opening_post_id

STORY_START = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)
COMMUNITY_SLUG = "northwind-voices"

PEOPLE = {
    # handle: (display name, who they are)
    "maya": ("Maya Okafor", "Northwind's head of community"),
    "tom": ("Tom Reyes", "Northwind customer relations"),
    "lena": ("Lena Fischer", "Northwind trust and safety"),
    "priya": ("Priya Raman", "energy-prices blogger"),
    "jonas": ("Jonas Berg", "investigative journalist, a critic"),
    "amara": ("Amara Osei", "sustainability video maker"),
    "felix": ("Felix Novak", "consumer advocate"),
    "sofia": ("Sofia Marin", "local councillor"),
    "kenji": ("Kenji Sato", "grid-engineering podcaster"),
    "ruth": ("Ruth Adeyemi", "retired line worker in the rural north"),
    "omar": ("Omar Haddad", "climate campaigner"),
    "bea": ("Bea Lindqvist", "community moderator, elected by members"),
    "dmitri": ("Dmitri Volkov", "heat-pump installer"),
    "noor": ("Noor Khalil", "tenants' association organiser"),
    "vince": ("Vince Harlow", "anonymous account with a history of trolling"),
    "gail": ("Gail Porter", "farmer and wind-lease holder"),
    "ines": ("Ines Duarte", "external auditor"),
}
FOUNDING_MEMBERS = ["priya", "jonas", "amara", "felix", "sofia", "kenji", "ruth", "omar",
                    "bea", "dmitri"]

CHATTER = [
    (PostKind.QUESTION, "Why did the standing charge rise in August?",
     "My bill shows the standing charge up 11% with no letter explaining it. What changed?"),
    (PostKind.QUESTION, "Smart meter readings stuck for weeks",
     "Several of my readers report estimated bills since the firmware update. Is it known?"),
    (PostKind.PROPOSAL, "A community solar co-op on school roofs",
     "Northwind could lease school roofs, and members buy shares. We have three schools keen."),
    (PostKind.COMMENT, "Thanks for the clearer tariff page",
     "The new tariff comparison page is much easier to read. Credit where due."),
    (PostKind.QUESTION, "What happens to the coal contract?",
     "Northwind still buys from the Kessel plant. When does that contract end, and will it renew?"),
    (PostKind.CONCERN, "Call-centre waits over an hour",
     "Elderly customers are waiting over an hour on the phone. Some give up and go unheated."),
    (PostKind.PROPOSAL, "Publish outage data every month",
     "Post outage minutes per district monthly, so we can all see where the grid is weakest."),
    (PostKind.COMMENT, "Heat-pump installers are booked until spring",
     "The grant is great but there are no installers. Could Northwind train more locally?"),
    (PostKind.QUESTION, "Is the green tariff really green?",
     "How much of the green tariff is certificates rather than actual renewable supply?"),
    (PostKind.CONCERN, "Prepayment meters fitted without consent",
     "Two families in my ward had prepayment meters forced in. Who authorised that?"),
    (PostKind.QUESTION, "When will the Hollin wind farm connect?",
     "The turbines have stood idle for months. Is it the grid connection or the contract?"),
    (PostKind.COMMENT, "The storm crews were brilliant in Eastby",
     "Power back within four hours in the October storm. Please thank the crew."),
    (PostKind.CONCERN, "Direct debits raised without notice",
     "Readers say their monthly direct debit doubled overnight, with no letter."),
    (PostKind.PROPOSAL, "Winter hardship fund run with the tenants' associations",
     "Let the associations identify households at risk, and Northwind fund the top-ups."),
    (PostKind.QUESTION, "Are you selling the northern network?",
     "A rumour says the northern distribution network is up for sale. Is it?"),
    (PostKind.COMMENT, "Bills in plain language, please",
     "Half the people I help cannot read the current bill layout."),
    (PostKind.QUESTION, "Export payments for rooftop solar",
     "Why is the export rate a third of the import rate, when the panels feed the village?"),
    (PostKind.CONCERN, "Engineers' pay dispute could hit winter repairs",
     "If the engineers strike in January, who covers the emergency rota?"),
]
REPLIES = [
    "Same here, and nobody has explained it.",
    "I asked on the phone and got three different answers.",
    "This matches what my readers are telling me.",
    "Can Northwind give a date for an answer?",
    "I'd support this if the figures are published openly.",
    "We raised this last year too, nothing changed.",
    "Good point, though the regulator sets part of it.",
    "Adding my voice: this matters a lot in our district.",
    "Here is a source for the figures: the regulator's quarterly report, table 4.",
    "Could we get someone from the network team to explain?",
]
ORG_ANSWERS = [
    "Thank you for raising this. Our pricing team has the detail and I'll post it here.",
    "You're right that we should have written to customers first. Here is what happened.",
    "We have checked with the network team: it is a known fault and a fix is scheduled.",
    "Good idea. We are looking at it with the schools and will report back in this thread.",
]


@dataclass
class StoryClock:
    """The demo's clock: each act happens a little after the previous one."""

    now: datetime = STORY_START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class DemoSummary:
    community_id: UUID
    community_slug: str
    first_position: int
    last_position: int
    people: dict[str, UUID]
    commands: int = 0
    events_by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(self.events_by_kind.values())


def record_demo(app: DialogueLedger, clock: StoryClock | None = None,
                seed: int = 7) -> DemoSummary:
    """Record the demo dialogue into ``app``'s store through its commands."""
    story = StoryClock() if clock is None else clock
    app.clock = story
    rng = random.Random(seed)
    first = app.position + 1
    commands = 0

    def tick(minutes: float = 7) -> None:
        story.advance(minutes=minutes * (0.5 + rng.random()))

    def run(command: Callable[..., object], *args: object, **kwargs: object) -> object:
        nonlocal commands
        commands += 1
        tick()
        return command(*args, **kwargs)

    # --- the cast, the organisation and its community ------------------------------
    p = {h: app.register_person(h, name).id for h, (name, _) in PEOPLE.items()}
    commands += len(p)
    maya, tom, lena = p["maya"], p["tom"], p["lena"]
    org = app.found_organisation("Northwind Energy", "northwind", actor_id=maya).id
    for rep in (tom, lena):
        run(app.appoint_representative, org, rep, actor_id=maya)
    founding_rule = AdmissionRule(quorum=4, threshold=0.6, min_community_votes=3,
                                  deadline_days=7, direct_invitations=True)
    community = app.create_community(
        org, "Northwind Voices", COMMUNITY_SLUG, access=Access.INVITATION_ONLY,
        rule=founding_rule, actor_id=maya).id
    commands += 2
    for handle in ["tom", "lena", *FOUNDING_MEMBERS]:
        run(app.invite_directly, community, p[handle], actor_id=maya)
        story.advance(hours=rng.randint(1, 20))
        run(app.accept_invitation, community, actor_id=p[handle])
    run(app.grant_role, community, tom, Role.REPRESENTATIVE, actor_id=maya)
    run(app.grant_role, community, lena, Role.MODERATOR, actor_id=maya)
    run(app.grant_role, community, p["bea"], Role.MODERATOR, actor_id=maya)
    run(app.grant_role, community, p["ines"], Role.AUDITOR, actor_id=maya)
    # From now on the community grows only by dialogue.
    run(app.change_admission_rule, community,
        AdmissionRule(quorum=4, threshold=0.6, min_community_votes=3, deadline_days=7,
                      direct_invitations=False), actor_id=maya)

    welcome = app.open_thread(
        community, PostKind.COMMENT, "Welcome to Northwind Voices",
        "We asked you here because you tell us what we'd rather not hear. Please do.",
        actor_id=maya)
    commands += 1
    welcome_post = _opening_post(app, welcome.id)
    for handle in ("priya", "jonas", "ruth"):
        run(app.reply, welcome_post, "Glad to be here. We'll see if the answers come.",
            actor_id=p[handle])

    # --- nominations: one admitted, one declined, one expired ----------------------
    story.advance(days=1)
    noor = app.nominate(community, p["noor"],
                        "Noor organises 40 tenant associations; renters have no voice here "
                        "yet and she would bring it.", actor_id=p["priya"]).id
    commands += 1
    noor_thread = _debate_post(app, noor)
    for handle, text in (("ruth", "Yes: renters are half of my village."),
                         ("maya", "Northwind would welcome this. Renters' issues are real."),
                         ("jonas", "Agree, as long as she stays independent of Northwind.")):
        run(app.reply, noor_thread, text, actor_id=p[handle])
    for handle, choice, reason in (
            ("ruth", Choice.ADMIT, "renters need a voice"),
            ("jonas", Choice.DECLINE, "want to hear her first"),
            ("maya", Choice.ADMIT, "adds a missing group"),
            ("amara", Choice.ADMIT, "strong track record")):
        run(app.cast_vote, noor, choice, reason, actor_id=p[handle])
    story.advance(hours=5)
    run(app.change_vote, noor, Choice.ADMIT, "read her statement; convinced",
        actor_id=p["jonas"])
    run(app.decide_nomination, noor, actor_id=p["priya"])
    story.advance(days=1)
    run(app.accept_invitation, community, actor_id=p["noor"])

    vince = app.nominate(community, p["vince"],
                         "Vince has a big following and strong views on prices.",
                         actor_id=p["felix"]).id
    commands += 1
    vince_thread = _debate_post(app, vince)
    for handle, text in (
            ("jonas", "His account has harassed two of us. I'm against."),
            ("bea", "Moderation history matters here; I'd decline."),
            ("tom", "Northwind takes no side on individuals, but reach is not the point.")):
        run(app.reply, vince_thread, text, actor_id=p[handle])
    for handle, choice, reason in (
            ("jonas", Choice.DECLINE, "harassment record"),
            ("bea", Choice.DECLINE, "would need heavy moderation"),
            ("tom", Choice.ADMIT, "wider reach"),
            ("felix", Choice.ADMIT, "I nominated him"),
            ("sofia", Choice.DECLINE, "not constructive")):
        run(app.cast_vote, vince, choice, reason, actor_id=p[handle])
    run(app.decide_nomination, vince, actor_id=p["bea"])

    gail = app.nominate(community, p["gail"],
                        "Gail leases land for the Hollin wind farm; she sees both sides.",
                        actor_id=p["omar"]).id
    commands += 1
    run(app.cast_vote, gail, Choice.ADMIT, "rural voice", actor_id=p["omar"])
    run(app.cast_vote, gail, Choice.ADMIT, "knows the leases", actor_id=p["ruth"])

    # --- the awkward concern and the pile-on -----------------------------------------
    story.advance(days=1, hours=3)
    outage = app.open_thread(
        community, PostKind.CONCERN, "Rural north: outages every storm, and no answers",
        "Our village lost power five times since July, up to 30 hours each. Northwind's "
        "status page said 'no known issues'. Why is the north always last?",
        actor_id=p["ruth"]).id
    commands += 1
    outage_post = _opening_post(app, outage)
    pile = ["omar", "jonas", "sofia", "felix", "kenji", "noor", "amara", "priya"]
    pile_posts: list[UUID] = [outage_post]
    for handle in pile:
        story.advance(minutes=rng.randint(20, 150))
        text = rng.choice(REPLIES) + " (north, outage)"
        pile_posts.append(app.reply(outage_post, text, actor_id=p[handle]).id)
        commands += 1
    jonas_leak = app.reply(
        outage_post,
        "An internal memo I was sent says maintenance crews in the north were cut by 40% "
        "this year. Northwind, is that true?", actor_id=p["jonas"]).id
    commands += 1
    story.advance(hours=2)
    removal = app.moderate(
        community, Action.REMOVE_POST, ReasonCode.CONFIDENTIAL,
        "The post quotes an internal document that names staff.",
        post_ids=[jonas_leak], author_notified=True, actor_id=lena).id
    commands += 1
    story.advance(hours=3)
    run(app.lodge_appeal, removal,
        "The memo names no one; it is the only evidence of the cuts. This is a critical post "
        "removed by Northwind's own moderator.", actor_id=p["jonas"])
    story.advance(days=1)
    run(app.decide_appeal, removal, AppealOutcome.REVERSED,
        "No personal data is quoted; public interest outweighs confidentiality. Restored.",
        actor_id=p["bea"])
    story.advance(days=1, hours=4)
    answer = app.reply(
        outage_post,
        "We owe you a straight answer. Crews in the north were reduced; that was a mistake. "
        "We commit to restoring them and to publishing outage minutes per district.",
        actor_id=maya).id
    commands += 1
    run(app.acknowledge_post, jonas_leak, actor_id=tom)
    commitment = app.make_commitment(
        community, [outage_post, jonas_leak],
        "Restore northern maintenance crews to 2025 levels and publish monthly outage "
        "minutes per district.", due_on=date(2026, 10, 31), actor_id=maya).id
    commands += 1
    story.advance(days=2)
    run(app.reply, answer, "Thank you. We will hold you to the date.", actor_id=p["ruth"])

    # --- everyday dialogue: questions, proposals, comments; some answered --------------
    threads: list[tuple[UUID, UUID, PostKind]] = []
    writers = [h for h in [*FOUNDING_MEMBERS, "noor"] if h != "bea"]
    for index, (kind, title, body) in enumerate(CHATTER):
        story.advance(hours=rng.randint(6, 30))
        author = writers[index % len(writers)]
        thread = app.open_thread(community, kind, title, body, actor_id=p[author]).id
        commands += 1
        opening = _opening_post(app, thread)
        threads.append((thread, opening, kind))
        latest = opening
        for _ in range(rng.randint(6, 14)):
            tick(420)
            replier = rng.choice(writers)
            target = latest if rng.random() < 0.4 else opening
            latest = app.reply(target, rng.choice(REPLIES), actor_id=p[replier]).id
            commands += 1
        if index % 3 != 1:  # the organisation answers about two threads in three
            story.advance(hours=rng.randint(2, 60))
            responder = maya if index % 2 else tom
            app.reply(opening, ORG_ANSWERS[index % len(ORG_ANSWERS)], actor_id=responder)
            commands += 1
        if kind is PostKind.PROPOSAL:
            run(app.acknowledge_post, opening, actor_id=tom)

    # --- an edit, a retraction, a hidden post, a locked thread -----------------------
    _, tariff_post, _ = threads[0]
    run(app.edit_post, tariff_post,
        "My bill shows the standing charge up 11% (not 15% as I first wrote) with no letter "
        "explaining it. What changed?", actor_id=p[writers[0]])
    _, meter_post, _ = threads[1]
    regret = app.reply(meter_post, "Honestly Northwind staff are useless, all of them.",
                       actor_id=p["felix"]).id
    commands += 1
    story.advance(hours=1)
    run(app.retract_post, regret, actor_id=p["felix"])
    _, co_op_post, _ = threads[2]
    advert = app.reply(co_op_post, "Cheap solar panels, DM me for a discount code!!!",
                       actor_id=p["dmitri"]).id
    commands += 1
    run(app.moderate, community, Action.HIDE_POST, ReasonCode.SPAM,
        "Commercial advertising is not allowed in discussions.", post_ids=[advert],
        automated_detection=True, author_notified=True, actor_id=p["bea"])
    prepay_thread, _, _ = threads[9]
    lock = app.moderate(community, Action.LOCK_THREAD, ReasonCode.HARASSMENT,
                        "Cooling-off: replies turned personal.", thread_id=prepay_thread,
                        actor_id=lena).id
    commands += 1
    story.advance(days=1)
    run(app.moderate, community, Action.UNLOCK_THREAD, ReasonCode.OTHER,
        "Reopened after a day.", thread_id=prepay_thread, actor_id=p["bea"])
    run(app.notify_author, lock, "Your thread was locked for a day to cool off.",
        actor_id=lena)

    # --- the commitment is kept; the stale nomination expires ------------------------
    story.advance(days=4)
    run(app.record_progress, commitment, "Twelve crew posts advertised in the north.",
        actor_id=maya)
    story.advance(days=9)
    run(app.record_progress, commitment, "First outage report published for September.",
        actor_id=tom)
    story.advance(days=6)
    run(app.fulfil_commitment, commitment,
        "Crews are back at 2025 levels; outage minutes are published monthly.",
        actor_id=maya)
    run(app.reply, outage_post, "Confirmed: crews were out in the last storm within hours.",
        actor_id=p["ruth"])
    run(app.decide_nomination, gail, actor_id=p["omar"])

    summary = DemoSummary(community_id=community, community_slug=COMMUNITY_SLUG,
                          first_position=first, last_position=app.position, people=p,
                          commands=commands)
    for notification in app.recorder.select_notifications(start=first, limit=1_000_000):
        summary.events_by_kind[notification.topic.rsplit(":", 1)[-1]] += 1
    return summary


def _opening_post(app: DialogueLedger, thread_id: UUID) -> UUID:
    return app.get(Thread, thread_id).opening_post_id


def _debate_post(app: DialogueLedger, nomination_id: UUID) -> UUID:
    return opening_post_id(debate_thread_id(nomination_id))
