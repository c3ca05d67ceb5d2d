"""The listen-and-respond report as a plain-text table, this period beside the previous."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Row = tuple[str, Callable[[dict[str, Any]], Any]]


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}{unit}"
    return f"{value}{unit}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


ROWS: list[Row] = [
    ("member threads", lambda f: f["member_threads"]),
    ("  responded", lambda f: f["responded_threads"]),
    ("  response rate", lambda f: _pct(f["response_rate"])),
    ("first response: count", lambda f: f["time_to_first_response_hours"]["count"]),
    ("  median", lambda f: _num(f["time_to_first_response_hours"]["median"], " h")),
    ("  p90", lambda f: _num(f["time_to_first_response_hours"]["p90"], " h")),
    ("  mean", lambda f: _num(f["time_to_first_response_hours"]["mean"], " h")),
    ("  max", lambda f: _num(f["time_to_first_response_hours"]["max"], " h")),
    ("unanswered threads", lambda f: len(f["unanswered"])),
    ("member posts addressed", lambda f: (f"{f['posts_addressed']['addressed']}/"
                                          f"{f['posts_addressed']['posts']} "
                                          f"({_pct(f['posts_addressed']['rate'])})")),
    *[(f"  {kind}", (lambda k: lambda f: (
        f"{f['posts_addressed']['by_kind'][k]['addressed']}/"
        f"{f['posts_addressed']['by_kind'][k]['posts']} "
        f"({_pct(f['posts_addressed']['by_kind'][k]['rate'])})"))(kind))
      for kind in ("question", "concern", "proposal", "comment")],
    ("dialogue share", lambda f: (f"{f['dialogue_share']['replies_to_members']}/"
                                  f"{f['dialogue_share']['organisation_posts']} "
                                  f"({_pct(f['dialogue_share']['share'])})")),
    ("commitments made", lambda f: f["commitments"]["made"]),
    ("  fulfilled", lambda f: f["commitments"]["fulfilled"]),
    ("  abandoned", lambda f: f["commitments"]["abandoned"]),
    ("  overdue", lambda f: f["commitments"]["overdue"]),
    ("  median days to fulfil", lambda f: _num(f["commitments"]["median_days_to_fulfil"])),
    ("member posts hidden/removed", lambda f: f["moderation"]["member_posts_hidden_or_removed"]),
    ("  by side", lambda f: ", ".join(f"{k} {v}" for k, v in
                                      f["moderation"]["by_side"].items()) or "-"),
    ("  by reason", lambda f: ", ".join(f"{k} {v}" for k, v in
                                        f["moderation"]["by_reason"].items()) or "-"),
    ("  removal rate, concerns", lambda f: _pct(f["moderation"]["removal_rate_concern"])),
    ("  removal rate, other posts", lambda f: _pct(f["moderation"]["removal_rate_other"])),
    ("appeals lodged", lambda f: f["moderation"]["appeals"]["lodged"]),
    ("  upheld / reversed", lambda f: (f"{f['moderation']['appeals']['upheld']} / "
                                       f"{f['moderation']['appeals']['reversed']}")),
    ("  reversal rate", lambda f: _pct(f["moderation"]["appeals"]["reversal_rate"])),
    ("pile-ons", lambda f: len(f["pile_ons"])),
    ("representatives replying", lambda f: len(f["responders"])),
]


def render_table(report: dict[str, Any], names: dict[str, str] | None = None) -> str:
    names = names or {}
    current, previous = report["period"], report["previous_period"]
    header = ("", f"{current['from'][:10]} - {current['to'][:10]}",
              f"{previous['from'][:10]} - {previous['to'][:10]}")
    rows = [header] + [(label, str(get(current)), str(get(previous))) for label, get in ROWS]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"Listen-and-respond report as of position {report['as_of']['position']}"
             + (f", time {report['as_of']['time']}" if report["as_of"]["time"] else "")]
    for index, row in enumerate(rows):
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}")
        if index == 0:
            lines.append("-" * (sum(widths) + 4))
    if current["unanswered"]:
        lines.append("")
        lines.append("Unanswered member threads, oldest first:")
        for item in current["unanswered"]:
            title = names.get(item["thread_id"], item["thread_id"])
            lines.append(f"  {item['opened_at'][:16]}  {item['age_hours']:8.1f} h  "
                         f"{item['kind']:<8}  {title}")
    if current["pile_ons"]:
        lines.append("")
        lines.append("Pile-ons:")
        for item in current["pile_ons"]:
            title = names.get(item["thread_id"], item["thread_id"])
            answer = ("answered before it began" if item["responded_before"] else
                      "no answer" if item["response_after_hours"] is None else
                      f"answered {item['response_after_hours']:.1f} h after")
            lines.append(f"  {item['started_at'][:16]}  {answer}  {title}")
    if current["responders"]:
        lines.append("")
        lines.append("Representatives' replies to members:")
        for item in current["responders"]:
            who = names.get(item["person_id"], item["person_id"])
            lines.append(f"  {who:<24} {item['replies_to_members']:4d} replies, median "
                         f"{_num(item['median_hours_to_respond'], ' h')}")
    return "\n".join(lines)
