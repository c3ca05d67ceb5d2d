"""The views: each is rebuilt from the event log and kept current as events arrive."""

from projections.view import View
from projections.views.commitments import CommitmentsView
from projections.views.directory import DirectoryView
from projections.views.moderation import ModerationView
from projections.views.nominations import NominationsView
from projections.views.threads import ThreadsView

ALL_VIEWS: tuple[type[View], ...] = (
    DirectoryView, NominationsView, ThreadsView, ModerationView, CommitmentsView,
)
VIEWS_BY_NAME: dict[str, type[View]] = {view.name: view for view in ALL_VIEWS}

__all__ = ["ALL_VIEWS", "VIEWS_BY_NAME", "CommitmentsView", "DirectoryView",
           "ModerationView", "NominationsView", "ThreadsView"]
