"""The `ingest` command line. Each command is a thin call into the library or a flow; the modules group them:
`jobs` (run, demo, reparse, enrich, site), `history` (backfill, import-warc), `inspect` (status, runs, quarantine, history, extract, sources, people), `profiles`
(the registry), `feed` (export), `admin` (schemas, serve, deploy, db).

Errors a user can cause print one sentence on stderr and exit 2 (usage, configuration, database) or 1 (a run
that failed); `--debug` adds the traceback. Anything else is a bug: one line saying so, exit 1, the traceback
with `--debug`.
"""

from __future__ import annotations

import logging
import signal
import sys
import traceback

import typer

# isort: off
# Each module registers its commands on `app`; the order they are imported in is the order `--help` lists them.
from ingest.cli import jobs, history, inspect, profiles, feed, admin  # noqa: F401
# isort: on
from ingest.cli.app import UserError, app, err, options


def _explain(exc: Exception) -> tuple[int, str] | None:
    """(exit status, one sentence) for an error the user can fix; None for a bug."""
    from sqlalchemy.exc import OperationalError

    from ingest.config import ConfigError
    from ingest.pipeline.observe import ObserveError
    from ingest.pipeline.plan import PlanError
    from ingest.sources import UnclaimedURL, UnknownSource
    from ingest.store.engine import DatabaseMissing, DatabaseUnavailable
    from ingest.store.migrate import SchemaOutdated

    if isinstance(exc, UserError):
        return exc.code, str(exc)
    if isinstance(exc, (ConfigError, UnclaimedURL, UnknownSource)):
        return 2, f"configuration error: {exc}"
    if isinstance(exc, DatabaseMissing):
        return 2, f"{exc}: check database_url (or --database); a refresh creates it"
    if isinstance(exc, DatabaseUnavailable):
        return 2, f"{exc}: check database_url (or --database) and that the database server runs"
    if isinstance(exc, OperationalError):  # the database went away after it was opened
        return 2, f"database error: {str(exc.orig or exc).strip().splitlines()[0]}"
    if isinstance(exc, SchemaOutdated):
        return 2, f"database schema: {exc}"
    if isinstance(exc, PlanError):
        return 2, f"cannot plan the run: {exc}"
    if isinstance(exc, ObserveError):
        return 2, f"cannot extract: {exc}"
    return None


def _terminated(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds: a local Prefect server this started is stopped on the way out


def main() -> None:  # pragma: no cover - console entry point
    from ingest import redact

    signal.signal(signal.SIGTERM, _terminated)
    redact.install()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        status = app(standalone_mode=False)  # our errors are ours to print: see _explain
    except typer.Abort:  # Ctrl-C at a prompt
        err.print("interrupted", markup=False)
        sys.exit(130)
    except typer.TyperException as exc:  # usage: a bad option or argument (click's UsageError, as typer ships it)
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:
        if options.debug:
            traceback.print_exc()
        explained = _explain(exc)
        if explained is None:
            err.print(f"unexpected error: {type(exc).__name__}: {exc} (a bug: run with --debug for the traceback "
                      "and report it)", markup=False, soft_wrap=True)
            sys.exit(1)
        code, message = explained
        err.print(message, markup=False, soft_wrap=True)
        sys.exit(code)
    sys.exit(status if isinstance(status, int) else 0)
