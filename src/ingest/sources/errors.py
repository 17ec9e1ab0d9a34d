"""What a source's `extract` raises, and nothing else, when a body cannot be turned into records.

The `reason` is what the quarantine records (`layout_changed`, `blocked`, `malformed`, ...).
"""

from __future__ import annotations


class ExtractionError(Exception):
    """The page could not be turned into records."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self):
        # Survives pickling (the worker processes) whatever a subclass's __init__ takes.
        return _restore, (type(self), self.reason, self.detail, self.__dict__)


def _restore(cls: type[ExtractionError], reason: str, detail: str, state: dict) -> ExtractionError:
    error = cls.__new__(cls)
    ExtractionError.__init__(error, reason, detail)
    error.__dict__.update(state)
    return error


class LayoutChanged(ExtractionError):
    """Expected elements are missing: the site's markup changed (or this is not a profile)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("layout_changed", "missing expected elements: " + ", ".join(missing))
        self.missing = missing


class BlockedPage(ExtractionError):
    """A CAPTCHA or block page answered with 200 in place of the profile."""
