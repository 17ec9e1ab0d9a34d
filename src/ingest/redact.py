"""Keep credentials out of what a run prints: passwords in URLs and connection strings, and the
values of credential headers, masked in log records (every logger, Prefect's included), tracebacks
and messages.

`install()` is called by the command line and the flows; `redact()` serves messages built by hand.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback

MASK = "***"
_PATTERNS = (
    # scheme://user:password@host -> scheme://user:***@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/?#@\s]*):[^@/?#\s]*@"), rf"\1:{MASK}@"),
    # Header lines and dict items: "Authorization: Bearer abc", 'cookie': 'a=b; c=d' (to the end of the value)
    (re.compile(r"(?i)\b((?:proxy-)?authorization|cookie|set-cookie|x-api-key)(['\"]?\s*:\s*['\"]?)[^\r\n'\"]+"),
     rf"\1\2{MASK}"),
    # key=value: libpq strings, query parameters, forms: password=abc, api_key=abc
    (re.compile(r"(?i)\b(password|passwd|pwd|x-api-key|api[-_]?key|access[-_]token)=[^\s&;'\"]+"), rf"\1={MASK}"),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacting_factory(make_record):
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), ()
        except Exception:  # a bad format string: logging reports it when the record is emitted
            return record
        if record.exc_info and not record.exc_text:  # formatters use exc_text when it is set
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    return factory


def _excepthook(kind, value, tb) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def install() -> None:
    """Redact every log record made from now on in this process, and uncaught tracebacks. Idempotent."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacting", False):
        logging.setLogRecordFactory(_redacting_factory(factory))
    sys.excepthook = _excepthook
