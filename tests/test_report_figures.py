"""Worked examples of every figure of the listen-and-respond report (docs/report.md).

Each scenario places every act at an exact time (hours from 2026-04-01 00:00 UTC, see
``tests/report_world.py``). The period is ``[0 h, 240 h)``, the previous period
``[-240 h, 0 h)``, and ``now`` is 300 h unless said otherwise. The expected numbers are worked
out by hand in the comments, from the definitions in docs/report.md, not from the code.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from ledger.application import DialogueLedger
from ledger.domain import ReasonCode
from tests.conftest import Clock
from tests.report_world import (
    CM,
    HIDE,
    LATE,
    NO_APPEALS,
    NO_COMMITMENTS,
    REMOVE,
    REVERSED,
    UPHELD,
    C,
    P,
    Q,
    Town,
    Views,
    addressed,
    backlog,
    build_town,
    pile_on,
    report,
    responders,
    silent_representatives,
    stats,
)

SPAM, HARASSMENT, OFF_TOPIC, OTHER = (ReasonCode.SPAM, ReasonCode.HARASSMENT,
                                      ReasonCode.OFF_TOPIC, ReasonCode.OTHER)


@pytest.fixture
def views() -> Iterator[Views]:
    made = Views()
    yield made
    made.close()


@pytest.fixture
def town(ledger: DialogueLedger, clock: Clock) -> Town:
    clock.now = LATE
    return build_town(ledger)


# =============================================================================================
# 1-5, 9, 10: threads, response times, backlog, posts addressed, dialogue share, responders
# =============================================================================================
def test_listening_figures_of_the_period_and_the_previous_one(town: Town, views: Views) -> None:
    t = town
    # --- previous period [-240, 0) ----------------------------------------------------------
    _, o0a = t.thread(t.alice, -100, Q)
    t.reply(o0a, t.rep2, -90)                          # T0a answered after 10 h
    t0b, _ = t.thread(t.bob, -50, C)                   # T0b never answered
    t.thread(t.rep, -60, CM)                           # a broadcast: an organisation post
    _, o0c = t.thread(t.carol, -20, P)
    # --- period [0, 240) --------------------------------------------------------------------
    t.reply(o0c, t.rep, 5)                             # T0c answered at 5 h: 25 h
    _, r1 = t.thread(t.alice, 10, Q)
    t.reply(r1, t.rep, 11)                             # R1: first response after 1 h
    _, r2 = t.thread(t.bob, 20, C)
    t.reply(r1, t.rep2, 21)                            # R1: a second response (11 h)
    t.reply(r2, t.rep2, 22)                            # R2: 2 h
    _, r3 = t.thread(t.carol, 30, P)
    r3_bob = t.reply(r3, t.bob, 31)                    # a member's reply (a comment)
    t.reply(r3_bob, t.rep2, 33)                        # R3: response in the thread, 3 h
    _, r4 = t.thread(t.dave, 40, CM)
    t.reply(r4, t.rep, 44)                             # R4: 4 h
    _, r5 = t.thread(t.erin, 50, Q)
    t.reply(r5, t.rep, 55)                             # R5: 5 h
    t11, _ = t.thread(t.bob, 60, C)                    # T11: never answered
    _, t14 = t.thread(t.rep, 70, P)                    # an organisation thread
    t14_alice = t.reply(t14, t.alice, 71, Q)
    t.reply(t14_alice, t.rep, 75)                      # 4 h after alice's reply
    _, r6 = t.thread(t.alice, 80, C)
    t.reply(r6, t.rep2, 86)                            # R6: 6 h
    _, r7 = t.thread(t.bob, 90, Q)
    t.reply(r7, t.rep, 97)                             # R7: 7 h
    t12, o12 = t.thread(t.alice, 100, Q)
    t.ack(o12, t.rep, 110)                             # T12: acknowledged, not answered
    _, r8 = t.thread(t.carol, 120, Q)
    t.reply(r8, t.rep2, 128)                           # R8: 8 h
    _, r9 = t.thread(t.dave, 140, P)
    t.reply(r9, t.rep, 150)                            # R9: 10 h
    t13, o13 = t.thread(t.carol, 150, Q)
    t.reply(o13, t.frank, 151, C)                      # T13: only a member's reply
    _, t15 = t.thread(t.rep, 160, CM)                  # a broadcast...
    t.reply(t15, t.rep2, 161)                          # ...and an org reply to an org post
    _, r10 = t.thread(t.erin, 230, Q)
    t.reply(r10, t.rep2, 270)                          # R10: 40 h, after the period's end

    figures = report(views(t.app), t.hall)
    now, previous = figures["period"], figures["previous_period"]

    # 1. Member threads opened in [0, 240): R1..R10, T11, T12, T13 = 13 (T14, T15 are the
    #    organisation's). Responded: R1..R10 = 10 (R10's response at 270 h is after the period
    #    but before the report's point; T12's acknowledgement is not a response).
    assert (now["member_threads"], now["responded_threads"]) == (13, 10)
    assert now["response_rate"] == 10 / 13
    # 2. First-response waits: R1 1, R2 2, R3 3, R4 4, R5 5, R6 6, R7 7, R8 8, R9 10, R10 40.
    #    n = 10; median = (5 + 6) / 2 = 5.5; p90 = the ceil(0.9 * 10) = 9th smallest = 10;
    #    mean = (1+2+3+4+5+6+7+8+10+40) / 10 = 86 / 10 = 8.6; max = 40.
    assert now["time_to_first_response_hours"] == stats(10, 5.5, 10.0, 8.6, 40.0)
    # 3. Unanswered, oldest first, ages at 300 h: T11 (60 h) 240, T12 (100 h) 200,
    #    T13 (150 h) 150.
    assert now["unanswered"] == backlog((t11, 60, C), (t12, 100, Q), (t13, 150, Q))
    # 4. Member posts of the period (16) and whether each got a direct response or an ack:
    #    question: R1 y, R5 y, R7 y, R8 y, R10 y, T12 y (ack), T13 n, alice@71 y -> 8, 7
    #    concern:  R2 y, R6 y, T11 n, frank@151 n                                -> 4, 2
    #    proposal: R3 n (the response answered bob's reply, not R3), R9 y          -> 2, 1
    #    comment:  bob@31 y, R4 y                                                 -> 2, 2
    #    total 16, addressed 12, rate 0.75.
    assert now["posts_addressed"] == addressed(
        16, 12, question=(8, 7), concern=(4, 2), proposal=(2, 1), comment=(2, 2))
    # 5. Organisation posts in the period: rep@5, rep@11, rep2@21, rep2@22, rep2@33, rep@44,
    #    rep@55, T14 opening@70, rep@75, rep2@86, rep@97, rep2@128, rep@150, T15 opening@160,
    #    rep2@161 = 15 (rep2@270 is after the period). Replies to member posts: all but the
    #    two openings and rep2@161 (a reply to rep's own post) = 12. Share 12 / 15 = 0.8.
    assert now["dialogue_share"] == {"organisation_posts": 15, "replies_to_members": 12,
                                     "share": 0.8}
    # 9. Responses to member posts in the period, hours from the member's post:
    #    rep:  @5 to carol@-20 25, @11 to alice@10 1, @44 4, @55 5, @75 to alice@71 4, @97 7,
    #          @150 10 -> 7 responses; sorted 1, 4, 4, 5, 7, 10, 25 -> median 5
    #    rep2: @21 to alice@10 11, @22 2, @33 to bob@31 2, @86 6, @128 8 (@270 is after the
    #          period) -> 5 responses; sorted 2, 2, 6, 8, 11 -> median 6
    assert responders(now) == {str(t.rep): (7, 5.0), str(t.rep2): (5, 6.0)}
    assert [r["person_id"] for r in now["responders"]] == sorted([str(t.rep), str(t.rep2)])
    # Nothing of figures 6-8 happened.
    assert now["commitments"] == NO_COMMITMENTS
    assert now["moderation"]["member_posts_hidden_or_removed"] == 0
    assert now["moderation"]["appeals"] == NO_APPEALS
    assert now["pile_ons"] == []

    # 10. The previous period [-240, 0): its own threads only.
    #    Member threads T0a, T0b, T0c = 3; responded T0a (10 h) and T0c (25 h, the response
    #    came in the current period) = 2; rate 2/3. Waits 10, 25: median 17.5, p90 the
    #    ceil(1.8) = 2nd = 25, mean 17.5, max 25.
    assert (previous["member_threads"], previous["responded_threads"]) == (3, 2)
    assert previous["response_rate"] == 2 / 3
    assert previous["time_to_first_response_hours"] == stats(2, 17.5, 25.0, 17.5, 25.0)
    #    Unanswered: T0b (opened -50 h), age at 300 h = 350 h.
    assert previous["unanswered"] == backlog((t0b, -50, C))
    #    Posts: T0a question y, T0b concern n, T0c proposal y -> 3, 2.
    assert previous["posts_addressed"] == addressed(
        3, 2, question=(1, 1), concern=(1, 0), proposal=(1, 1))
    #    Organisation posts: rep2@-90 (a reply to alice) and rep's broadcast@-60 -> 1 / 2.
    assert previous["dialogue_share"] == {"organisation_posts": 2, "replies_to_members": 1,
                                          "share": 0.5}
    #    Responders: rep2@-90 to alice@-100, 10 h (rep's @5 belongs to the current period).
    assert responders(previous) == {str(t.rep2): (1, 10.0)}
    #    Every representative is listed: rep, who did not respond then, with none.
    assert silent_representatives(previous) == [str(t.rep)]
    assert (previous["from"], previous["to"], now["from"], now["to"]) == (
        "2026-03-22T00:00:00Z", "2026-04-01T00:00:00Z",
        "2026-04-01T00:00:00Z", "2026-04-11T00:00:00Z")


# =============================================================================================
# The rules: what counts as a response, which posts count at all
# =============================================================================================
def test_what_counts_as_a_response_and_as_a_member_post(town: Town, views: Views) -> None:
    t = town
    _, o1 = t.thread(t.alice, 10, Q)
    retracted = t.reply(o1, t.rep, 12)
    t.retract(retracted, t.rep, 13)                    # retracted: not a response
    t.reply(o1, t.rep2, 20)                            # B1's first response: 20 - 10 = 10 h
    erin = t.reply(o1, t.erin, 21)
    t.retract(erin, t.erin, 22)                        # a retracted member post
    frank = t.reply(o1, t.frank, 23)
    t.moderate(t.cmod, REMOVE, HARASSMENT, [frank], 24)  # a removed member post
    dave = t.reply(o1, t.dave, 25, Q)
    t.moderate(t.cmod, HIDE, OFF_TOPIC, [dave], 26)    # hidden, not removed: still counted
    b2, o2 = t.thread(t.bob, 30, C)
    removed = t.reply(o2, t.rep, 31)
    t.moderate(t.cmod, REMOVE, SPAM, [removed], 32)    # removed, standing: not a response
    _, o3 = t.thread(t.carol, 40, Q)
    restored = t.reply(o3, t.rep, 42)
    decision = t.moderate(t.cmod, HIDE, OFF_TOPIC, [restored], 43).id
    t.appeal(decision, t.rep, 44)
    t.decide(decision, t.rep2, REVERSED, 45)           # restored: counts again, B3 2 h
    b4, o4 = t.thread(t.dave, 50, P)
    t.reply(o4, t.botrep, 51)                          # a bot representative: no response
    t.reply(o4, t.bot, 52)                             # a bot member: no member post
    _, debate = t.nominate(t.alice, 60)                # the debate thread is left out...
    t.reply(debate, t.rep, 61)                         # ...with the org's reply in it
    t.reply(debate, t.bob, 62)
    _, by_bot = t.thread(t.bot, 70, Q)                 # a bot's thread: not a member thread
    t.reply(by_bot, t.rep, 71)                         # an org reply, but not to a member
    t.thread(t.rep, 90, CM)                            # a broadcast

    figures = report(views(t.app), t.hall)
    now = figures["period"]
    # Member threads B1, B2, B3, B4 = 4 (the debate and the bot's thread are left out).
    # Responded: B1 (rep2@20) and B3 (rep@42, restored) = 2. B2's only reply is removed; B4's
    # only replies are bots'.
    assert (now["member_threads"], now["responded_threads"], now["response_rate"]) == (
        4, 2, 0.5)
    # Waits: B1 20 - 10 = 10 (not 12 - 10: that reply is retracted), B3 42 - 40 = 2.
    # n = 2: median (2 + 10) / 2 = 6, p90 the ceil(1.8) = 2nd = 10, mean 6, max 10.
    assert now["time_to_first_response_hours"] == stats(2, 6.0, 10.0, 6.0, 10.0)
    assert now["unanswered"] == backlog((b2, 30, C), (b4, 50, P))  # ages 270, 250
    # Member posts: alice@10 Q y (rep2@20); dave@25 Q n (hidden, so still counted);
    # bob@30 C n (its reply is removed); carol@40 Q y (restored reply); dave@50 P n (bots'
    # replies). Left out: erin@21 (retracted), frank@23 (removed), bot@52 and bot@70 (bots),
    # alice's and bob's debate posts. 5 posts, 2 addressed.
    assert now["posts_addressed"] == addressed(
        5, 2, question=(3, 2), concern=(1, 0), proposal=(1, 0))
    # Organisation posts (those that stand, as responses do): rep2@20, rep@42, rep@71,
    # rep@90 = 4. Left out: rep@12 (retracted), rep@31 (removed by a standing decision),
    # botrep@51 (a bot), rep@61 (the debate). Replies to member posts: rep2@20, rep@42 = 2
    # (rep@71 answers a bot). Share 2 / 4 = 0.5.
    assert now["dialogue_share"] == {"organisation_posts": 4, "replies_to_members": 2,
                                     "share": 0.5}
    # Responses to member posts: rep@42 to carol@40, 2 h; rep2@20 to alice@10, 10 h.
    # (rep@31 is removed, rep@12 retracted, rep@61 in the debate, botrep a bot.)
    assert responders(now) == {str(t.rep): (1, 2.0), str(t.rep2): (1, 10.0)}
    # Moderation of member posts by decisions of the period: frank@23 removed and dave@25
    # hidden, both by cmod (community side). The decisions on rep's posts do not count.
    # One appeal lodged (44 h), reversed: 1 / 1.
    moderation = now["moderation"]
    assert (moderation["member_posts_hidden_or_removed"], moderation["by_side"],
            moderation["by_reason"]) == (2, {"community": 2},
                                         {"harassment": 1, "off-topic": 1})
    assert moderation["appeals"] == {"lodged": 1, "upheld": 0, "reversed": 1, "pending": 0,
                                     "reversal_rate": 1.0}
    assert now["pile_ons"] == []  # the debate had only alice and bob
    # Nothing happened in the previous period.
    previous = figures["previous_period"]
    assert (previous["member_threads"], previous["response_rate"],
            previous["time_to_first_response_hours"], previous["unanswered"],
            previous["dialogue_share"]["share"], responders(previous)) == (
        0, None, stats(0, None, None, None, None), [], None, {})


def test_removal_standing_at_the_reports_point_decides_whether_a_post_counts(
        town: Town, views: Views) -> None:
    """The same world before and after the appeal: a removed response does not count; once
    the appeal reverses the removal, it counts again (and so does a member post)."""
    t = town
    x, ox = t.thread(t.alice, 10, Q)
    answer = t.reply(ox, t.rep, 12)
    on_answer = t.moderate(t.cmod, REMOVE, SPAM, [answer], 13).id
    y, oy = t.thread(t.bob, 20, C)
    on_member = t.moderate(t.rep2, REMOVE, OFF_TOPIC, [oy], 21).id
    t.appeal(on_answer, t.rep, 30)
    t.appeal(on_member, t.bob, 31)
    before = t.app.position
    t.decide(on_answer, t.rep2, REVERSED, 40)
    t.decide(on_member, t.cmod, REVERSED, 41)
    projector = views(t.app)

    standing = report(projector, t.hall, at_position=before)["period"]
    # X's only response is removed: 0 of 2 threads answered. Member posts: alice@10 (bob@20
    # is removed and left out) = 1, not addressed. Organisation posts: rep@12 is removed by a
    # standing decision, so none stand -> no share; rep has no responses. Appeals: 2 lodged,
    # both pending.
    assert (standing["member_threads"], standing["responded_threads"]) == (2, 0)
    assert standing["unanswered"] == backlog((x, 10, Q), (y, 20, C))
    assert standing["posts_addressed"] == addressed(1, 0, question=(1, 0))
    assert standing["dialogue_share"] == {"organisation_posts": 0, "replies_to_members": 0,
                                          "share": None}
    assert responders(standing) == {}
    assert standing["moderation"]["appeals"] == {"lodged": 2, "upheld": 0, "reversed": 0,
                                                 "pending": 2, "reversal_rate": None}

    reversed_ = report(projector, t.hall)["period"]
    # Both removals reversed: X answered after 12 - 10 = 2 h; bob@20 counts again (2 member
    # posts, alice@10 addressed); rep has 1 response (2 h). Appeals 2 reversed of 2 decided.
    assert (reversed_["member_threads"], reversed_["responded_threads"]) == (2, 1)
    assert reversed_["time_to_first_response_hours"] == stats(1, 2.0, 2.0, 2.0, 2.0)
    assert reversed_["posts_addressed"] == addressed(2, 1, question=(1, 1), concern=(1, 0))
    assert responders(reversed_) == {str(t.rep): (1, 2.0)}
    assert reversed_["moderation"]["appeals"] == {"lodged": 2, "upheld": 0, "reversed": 2,
                                                  "pending": 0, "reversal_rate": 1.0}
    # The removals still happened in the period: bob@20 (a member post) by rep2, the
    # organisation side; the removal of rep's post is not a member post's.
    assert (reversed_["moderation"]["member_posts_hidden_or_removed"],
            reversed_["moderation"]["by_side"]) == (1, {"organisation": 1})
    # "ever hidden or removed": bob's concern 1 / 1; alice's question 0 / 1.
    assert (reversed_["moderation"]["removal_rate_concern"],
            reversed_["moderation"]["removal_rate_other"]) == (1.0, 0.0)


def test_a_post_removed_by_a_standing_decision_stays_out_when_another_is_reversed(
        town: Town, views: Views) -> None:
    t = town
    _, opening = t.thread(t.alice, 10, Q)
    answer = t.reply(opening, t.rep, 12)
    hidden = t.moderate(t.cmod, HIDE, OFF_TOPIC, [answer], 13).id   # decision 1: hide
    t.moderate(t.rep2, REMOVE, SPAM, [answer], 14)                  # decision 2: remove
    t.appeal(hidden, t.rep, 15)
    t.decide(hidden, t.rep2, REVERSED, 16)  # only the hiding is reversed; the removal stands
    now = report(views(t.app), t.hall)["period"]
    # rep@12 is removed by decision 2, which still stands: not a response. 1 thread, 0
    # answered.
    assert (now["member_threads"], now["responded_threads"]) == (1, 0)


def test_a_post_hidden_by_a_standing_decision_stays_out_when_its_removal_is_reversed(
        town: Town, views: Views) -> None:
    t = town
    _, opening = t.thread(t.alice, 10, Q)
    answer = t.reply(opening, t.rep, 12)
    t.moderate(t.cmod, HIDE, OFF_TOPIC, [answer], 13)                # decision 1: hide
    removal = t.moderate(t.rep2, REMOVE, SPAM, [answer], 14).id      # decision 2: remove
    t.appeal(removal, t.rep, 15)
    t.decide(removal, t.cmod, REVERSED, 16)  # only the removal is reversed; the hiding stands
    now = report(views(t.app), t.hall)["period"]
    # rep@12 is hidden by decision 1, which still stands: not a response.
    assert (now["member_threads"], now["responded_threads"]) == (1, 0)


# =============================================================================================
# 6, 7: commitments and moderation
# =============================================================================================
def test_commitments_and_moderation(town: Town, views: Views) -> None:
    t = town
    # --- previous period --------------------------------------------------------------------
    _, c0 = t.thread(t.bob, -50, C)
    t.commit(-45, [c0], due=date(2026, 3, 30))                       # K0: stays open
    k0b = t.commit(-44, [c0])                                        # K0b
    d0 = t.moderate(t.cmod, REMOVE, OTHER, [c0], -40).id             # community side
    t.appeal(d0, t.bob, -35)                                         # lodged before 0 h
    _, p0 = t.thread(t.carol, -30, P)
    t.thread(t.dave, -20, Q)
    # --- period -----------------------------------------------------------------------------
    t.fulfil(k0b, 4)                                                 # 48 h: 2 days
    t.decide(d0, t.rep2, REVERSED, 5)                                # decided in the period
    _, c1 = t.thread(t.alice, 10, C)
    k1 = t.commit(10, [c1], due=date(2026, 4, 20))
    erin = t.reply(c1, t.erin, 11)
    d1 = t.moderate(t.cmod, REMOVE, HARASSMENT, [c1], 12).id         # community
    d4 = t.moderate(t.cmod, HIDE, SPAM, [erin], 13).id               # community
    t.appeal(d1, t.alice, 14)
    t.decide(d1, t.rep2, REVERSED, 15)
    _, c2 = t.thread(t.bob, 20, C)
    k2 = t.commit(20, [c1], due=date(2026, 4, 5))
    d2 = t.moderate(t.rep2, HIDE, OFF_TOPIC, [c2], 22).id            # organisation
    t.appeal(d2, t.bob, 23)
    t.decide(d2, t.cmod, UPHELD, 30)
    k3 = t.commit(30, [c1], due=date(2026, 4, 10))
    t.thread(t.carol, 31, C)
    t.commit(40, [c1], due=date(2026, 4, 12))                        # K4: overdue
    t.thread(t.dave, 40, C)
    t.commit(50, [c1], due=date(2026, 4, 13))                        # K5: due on now's date
    _, q1 = t.thread(t.erin, 50, Q)
    d3 = t.moderate(t.rep2, REMOVE, SPAM, [q1], 52).id               # organisation
    t.appeal(d3, t.erin, 53)                                         # never decided
    t.fulfil(k1, 58)                                                 # 48 h: 2 days
    _, p1 = t.thread(t.frank, 60, P)
    t.commit(60, [c1])                                               # K6: no due date
    org_post = t.reply(p1, t.rep, 65)
    t.moderate(t.cmod, HIDE, OFF_TOPIC, [org_post], 66)              # not a member post
    k7 = t.commit(70, [c1], due=date(2026, 4, 8))
    _, by_bot = t.thread(t.bot, 70, Q)
    t.moderate(t.cmod, REMOVE, SPAM, [by_bot], 71)                   # a bot's post
    k8 = t.commit(80, [c1], due=date(2026, 4, 30))
    t.abandon(k3, 100)
    t.moderate(t.cmod, HIDE, OFF_TOPIC, [p0], 100)                   # a March post
    t.fulfil(k8, 104)                                                # 24 h: 1 day
    t.fulfil(k2, 116)                                                # 96 h: 4 days (late)
    t.appeal(d4, t.erin, 200)
    t.decide(d4, t.rep2, REVERSED, 250)                              # after the period
    t.fulfil(k7, 250)                                                # 180 h: 7.5 days

    figures = report(views(t.app), t.hall)
    now, previous = figures["period"], figures["previous_period"]
    # 6. Made in [0, 240): K1..K8 = 8. Fulfilled (by the report's point): K1 2 d, K2 4 d,
    #    K7 7.5 d (fulfilled after the period), K8 1 d = 4; abandoned K3 = 1; open K4, K5,
    #    K6 = 3; overdue (due before 2026-04-13, now's date): K4 (04-12) = 1; K5 is due on
    #    now's date itself, K6 has no due date, K2 was late but is fulfilled.
    #    Median days: 1, 2, 4, 7.5 -> (2 + 4) / 2 = 3.
    assert now["commitments"] == {"made": 8, "fulfilled": 4, "abandoned": 1, "overdue": 1,
                                  "open": 3, "median_days_to_fulfil": 3.0}
    #    Previous: K0 (open, due 03-30: overdue) and K0b (fulfilled at 4 h: 48 h = 2 days).
    assert previous["commitments"] == {"made": 2, "fulfilled": 1, "abandoned": 0,
                                       "overdue": 1, "open": 1, "median_days_to_fulfil": 2.0}

    # 7. Member posts hidden or removed by decisions of the period:
    #    c1 (cmod, community, harassment), erin@11 (cmod, community, spam), c2 (rep2,
    #    organisation, off-topic), q1 (rep2, organisation, spam), p0 (cmod, community,
    #    off-topic: a March post, but decided at 100 h) = 5. Not counted: rep's post (the
    #    organisation's) and the bot's post.
    moderation = now["moderation"]
    assert moderation["member_posts_hidden_or_removed"] == 5
    assert moderation["by_side"] == {"community": 3, "organisation": 2}
    assert moderation["by_reason"] == {"harassment": 1, "off-topic": 2, "spam": 2}
    #    The period's member concern posts c1 (removed, reversed: still "ever"), c2 (hidden),
    #    c3, c4: 2 / 4. Other member posts erin@11 (hidden), q1 (removed), p1: 2 / 3.
    assert (moderation["removal_rate_concern"], moderation["removal_rate_other"]) == (
        2 / 4, 2 / 3)
    #    Appeals lodged in the period: d1 (reversed), d2 (upheld), d3 (pending), d4 (lodged
    #    at 200 h, reversed at 250 h, by the report's point) = 4; reversal rate 2 / 3.
    #    (d0's appeal was lodged in the previous period.)
    assert moderation["appeals"] == {"lodged": 4, "upheld": 1, "reversed": 2, "pending": 1,
                                     "reversal_rate": 2 / 3}
    #    Previous: c0 removed by cmod (community, other) = 1; concern c0: 1 / 1; other p0
    #    (hidden later, at 100 h: "ever") and dave's question: 1 / 2. d0's appeal lodged at
    #    -35 h and reversed (at 5 h): 1 / 1.
    before = previous["moderation"]
    assert (before["member_posts_hidden_or_removed"], before["by_side"],
            before["by_reason"]) == (1, {"community": 1}, {"other": 1})
    assert (before["removal_rate_concern"], before["removal_rate_other"]) == (1.0, 0.5)
    assert before["appeals"] == {"lodged": 1, "upheld": 0, "reversed": 1, "pending": 0,
                                 "reversal_rate": 1.0}


# =============================================================================================
# 8: pile-ons
# =============================================================================================
def test_pile_ons_with_the_default_and_custom_parameters(town: Town, views: Views) -> None:
    t = town
    # P5 (previous period): bob, carol, dave, erin, frank within 4 h; 5th member at -96 h.
    p5, o5 = t.thread(t.bob, -100, C)
    for hours, member in ((-99, t.carol), (-98, t.dave), (-97, t.erin), (-96, t.frank)):
        t.reply(o5, member, hours)
    # P6: opened in the previous period, answered at -1 h, the pile-on starts at 3 h.
    p6, o6 = t.thread(t.alice, -5, C)
    t.reply(o6, t.bob, -2)
    t.reply(o6, t.rep, -1)
    for hours, member in ((1, t.carol), (2, t.dave), (3, t.erin)):
        t.reply(o6, member, hours)
    # P1: alice 10, bob 12, carol 14, alice again 16, dave 20, erin 30 (5th distinct member,
    #     20 h after the first); first response 35 h.
    p1, o1 = t.thread(t.alice, 10, C)
    for hours, member in ((12, t.bob), (14, t.carol), (16, t.alice), (20, t.dave),
                          (30, t.erin)):
        t.reply(o1, member, hours)
    t.reply(o1, t.rep, 35)
    # P2: frank 50, rep answers at 51, then alice 60, bob 61, carol 62, dave 63.
    p2, o2 = t.thread(t.frank, 50, Q)
    t.reply(o2, t.rep, 51)
    for hours, member in ((60, t.alice), (61, t.bob), (62, t.carol), (63, t.dave)):
        t.reply(o2, member, hours)
    # P3, near miss: 4 distinct members (alice twice), a bot and a representative.
    p3, o3 = t.thread(t.alice, 100, Q)
    for hours, member in ((101, t.bob), (102, t.carol), (103, t.dave), (104, t.alice),
                          (105, t.bot), (106, t.rep)):
        t.reply(o3, member, hours)
    # P4, near miss: 5 members over 30 h: erin 120, frank 127, alice 135, bob 143, carol 150;
    #     rep answers at 170.
    p4, o4 = t.thread(t.erin, 120, P)
    for hours, member in ((127, t.frank), (135, t.alice), (143, t.bob), (150, t.carol)):
        t.reply(o4, member, hours)
    t.reply(o4, t.rep, 170)
    # A nomination debate with 5 members within 4 h: left out.
    _, debate = t.nominate(t.alice, 180)
    for hours, member in ((181, t.bob), (182, t.carol), (183, t.dave), (184, t.erin)):
        t.reply(debate, member, hours)
    projector = views(t.app)

    # k = 5, w = 24:
    #  P6: window (-21, 3] holds alice, bob, carol, dave, erin -> starts 3; rep@-1 before.
    #  P1: at erin@30 the window (6, 30] holds alice, bob, carol, dave, erin -> starts 30;
    #      nothing before; first response 35 - 30 = 5 h later.
    #  P2: at dave@63 the window (39, 63] holds frank, alice, bob, carol, dave -> 63; rep@51
    #      came before, none after.
    #  P3: only 4 distinct members (bot and rep do not count) -> none.
    #  P4: at carol@150 the window (126, 150] holds frank, alice, bob, carol: 4 -> none.
    #  P5: starts -96, in the previous period; no response.
    figures = report(projector, t.hall)
    assert figures["period"]["pile_ons"] == [
        pile_on(p6, 3, True, None), pile_on(p1, 30, False, 5.0), pile_on(p2, 63, True, None)]
    assert figures["previous_period"]["pile_ons"] == [pile_on(p5, -96, False, None)]

    # k = 4, w = 24: the 4th distinct member's post starts it.
    #  P6: alice, bob, carol, dave -> 2.  P1: alice, bob, carol, dave -> 20; response 15 h
    #  later.  P2: frank, alice, bob, carol -> 62.  P3: alice, bob, carol, dave -> 103; rep
    #  at 106, 3 h later.  P4: at bob@143 the window (119, 143] holds erin, frank, alice,
    #  bob -> 143; rep at 170, 27 h later.  P5: -97 (previous).
    figures = report(projector, t.hall, k=4, w=24.0)
    assert figures["period"]["pile_ons"] == [
        pile_on(p6, 2, True, None), pile_on(p1, 20, False, 15.0),
        pile_on(p2, 62, True, None), pile_on(p3, 103, False, 3.0),
        pile_on(p4, 143, False, 27.0)]
    assert figures["previous_period"]["pile_ons"] == [pile_on(p5, -97, False, None)]

    # k = 5, w = 36: P4's five members (120 .. 150, 30 h) now fit: starts 150, rep 20 h
    # later. P3 still has only 4 members.
    figures = report(projector, t.hall, k=5, w=36.0)
    assert figures["period"]["pile_ons"] == [
        pile_on(p6, 3, True, None), pile_on(p1, 30, False, 5.0), pile_on(p2, 63, True, None),
        pile_on(p4, 150, False, 20.0)]
    assert figures["parameters"] == {"pile_on_members": 5, "pile_on_hours": 36.0}


def test_a_pile_on_answered_before_it_started_still_gives_the_hours_to_the_next_response(
        town: Town, views: Views) -> None:
    t = town
    pile, opening = t.thread(t.alice, 10, C)
    t.reply(opening, t.rep, 11)                        # a response before the pile-on
    for hours, member in ((12, t.bob), (13, t.carol), (14, t.dave), (15, t.erin)):
        t.reply(opening, member, hours)
    t.reply(opening, t.rep2, 20)                       # and another after it: 20 - 15 = 5 h
    assert report(views(t.app), t.hall)["period"]["pile_ons"] == [
        pile_on(pile, 15, True, 5.0)]


def test_five_members_exactly_24_hours_apart_are_a_pile_on(town: Town, views: Views) -> None:
    t = town
    pile, opening = t.thread(t.alice, 10, C)
    for hours, member in ((16, t.bob), (22, t.carol), (28, t.dave), (34, t.erin)):
        t.reply(opening, member, hours)
    # alice@10 .. erin@34: 5 distinct members within 24 h; the 5th posted at 34 h.
    assert report(views(t.app), t.hall)["period"]["pile_ons"] == [
        pile_on(pile, 34, False, None)]


# =============================================================================================
# Scope: a whole organisation adds its communities up
# =============================================================================================
def test_a_whole_organisation_adds_up_its_communities(town: Town, views: Views) -> None:
    t = town
    _, o_h1 = t.thread(t.alice, 10, Q)
    t.reply(o_h1, t.rep, 14)                                         # 4 h
    h2, _ = t.thread(t.bob, 20, C)                                   # unanswered
    t.commit(30, [o_h1], due=date(2026, 4, 5))                       # open, overdue
    _, o_a1 = t.thread(t.alice, 40, Q, community=t.annex)
    t.reply(o_a1, t.rep, 48)                                         # 8 h
    a2, o_a2 = t.thread(t.bob, 50, P, community=t.annex)
    t.ack(o_a2, t.rep, 51)                                           # addressed, unanswered
    annexed = t.commit(55, [o_a1], community=t.annex)
    t.fulfil(annexed, 79)                                            # 24 h: 1 day
    t.moderate(t.rep, HIDE, SPAM, [o_a2], 60, community=t.annex)     # organisation side
    projector = views(t.app)

    hall = report(projector, t.hall)["period"]
    annex = report(projector, t.annex)["period"]
    both = report(projector, t.hall, t.annex)["period"]
    # Hall: 2 threads, 1 answered (4 h); backlog h2 (age 280); posts 2, addressed 1;
    # org posts 1, replies 1; 1 commitment, open and overdue; no moderation.
    assert (hall["member_threads"], hall["responded_threads"]) == (2, 1)
    assert hall["time_to_first_response_hours"] == stats(1, 4.0, 4.0, 4.0, 4.0)
    assert hall["unanswered"] == backlog((h2, 20, C))
    assert hall["posts_addressed"] == addressed(2, 1, question=(1, 1), concern=(1, 0))
    assert hall["commitments"] == {"made": 1, "fulfilled": 0, "abandoned": 0, "overdue": 1,
                                   "open": 1, "median_days_to_fulfil": None}
    assert hall["moderation"]["member_posts_hidden_or_removed"] == 0
    # Annex: 2 threads, 1 answered (8 h); backlog a2 (acknowledged is not answered, age
    # 250); posts 2, both addressed (a1 by a reply, a2 acknowledged, hidden but not
    # removed); 1 commitment fulfilled in 1 day; a2 hidden by rep (organisation, spam).
    assert (annex["member_threads"], annex["responded_threads"]) == (2, 1)
    assert annex["unanswered"] == backlog((a2, 50, P))
    assert annex["posts_addressed"] == addressed(2, 2, question=(1, 1), proposal=(1, 1))
    assert annex["moderation"]["by_side"] == {"organisation": 1}
    # The organisation: the sums. 4 threads, 2 answered, waits 4 and 8: median 6, p90 the
    # 2nd = 8, mean 6, max 8; backlog h2 (20 h, age 280) then a2 (50 h, age 250); posts 4,
    # addressed 3; org posts 2, both replies to members; commitments 2 made, 1 fulfilled
    # (1 day), 1 open and overdue; 1 member post hidden; rep: 2 responses, median
    # (4 + 8) / 2 = 6.
    assert (both["member_threads"], both["responded_threads"], both["response_rate"]) == (
        4, 2, 0.5)
    assert both["time_to_first_response_hours"] == stats(2, 6.0, 8.0, 6.0, 8.0)
    assert both["unanswered"] == backlog((h2, 20, C), (a2, 50, P))
    assert both["posts_addressed"] == addressed(
        4, 3, question=(2, 2), concern=(1, 0), proposal=(1, 1))
    assert both["dialogue_share"] == {"organisation_posts": 2, "replies_to_members": 2,
                                      "share": 1.0}
    assert both["commitments"] == {"made": 2, "fulfilled": 1, "abandoned": 0, "overdue": 1,
                                   "open": 1, "median_days_to_fulfil": 1.0}
    assert (both["moderation"]["member_posts_hidden_or_removed"],
            both["moderation"]["by_reason"]) == (1, {"spam": 1})
    assert responders(both) == {str(t.rep): (2, 6.0)}


# =============================================================================================
# Edges: the period's bounds, and what time a thread is opened at
# =============================================================================================
def test_the_period_is_half_open_in_utc(town: Town, views: Views) -> None:
    t = town
    t.thread(t.alice, -240.5, Q)        # before the previous period
    _, first = t.thread(t.bob, -240, Q)  # the previous period's first instant
    at_start, _ = t.thread(t.carol, 0, Q)  # the period's first instant
    t.thread(t.dave, 240, Q)            # the period's end: not in it
    t.commit(0, [first])                # made at the period's first instant
    t.commit(240, [first])              # made at its end: not in it
    figures = report(views(t.app), t.hall)
    now, previous = figures["period"], figures["previous_period"]
    # [-240, 0) holds bob's thread only; [0, 240) holds carol's only.
    assert (previous["member_threads"], now["member_threads"]) == (1, 1)
    assert now["unanswered"] == backlog((at_start, 0, Q))
    assert (previous["commitments"]["made"], now["commitments"]["made"]) == (0, 1)


def test_a_thread_is_opened_by_its_opening_post_whatever_its_replies_times(
        town: Town, views: Views) -> None:
    t = town
    _, opening = t.thread(t.alice, 10, Q)
    t.reply(opening, t.bob, 9)          # recorded after the opening, dated an hour before
    now = report(views(t.app), t.hall)["period"]
    # alice opened a thread at 10 h: 1 member thread, unanswered.
    assert now["member_threads"] == 1
