"""Importing existing conversation archives (GitHub issue exports, mailing-list mboxes) into
the ledger, through its ordinary commands, idempotently. See docs/imports.md."""

from ledger.imports.base import ImportTarget, Summary, Survey, import_archive
from ledger.imports.github import GitHubArchive, GitHubOptions
from ledger.imports.mbox import MboxArchive, MboxOptions

__all__ = [
    "GitHubArchive",
    "GitHubOptions",
    "ImportTarget",
    "MboxArchive",
    "MboxOptions",
    "Summary",
    "Survey",
    "import_archive",
]
