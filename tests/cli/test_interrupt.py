"""Ctrl-C and SIGTERM stop `ingest run` within seconds, keep what was written whole, and record the run as
interrupted; a re-run completes the work with nothing lost or duplicated. The command is started as a terminal
starts it: a process group of its own, SIGINT at its default disposition, the signal sent to the whole group."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ingest.site.corpus import Corpus
from ingest.site.server import Site, serve_in_thread
from ingest.store import Author, Authorship, IngestRun, Paper, make_engine
from tests.cli.runner import INGEST, ingest
from tests.dbutil import count, rows

STOPPED_WITHIN_S = 5.0


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    def as_in_a_terminal() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background job of a script would ignore it

    return subprocess.Popen([INGEST, *args], cwd=cwd, env=os.environ | env, start_new_session=True,
                            preexec_fn=as_in_a_terminal, stdout=subprocess.PIPE,
                            stderr=open(cwd / "stderr.log", "w"), text=True)


def wait_for_progress(process: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Until the run reports its first profiles done (Prefect and the workers have started)."""
    deadline = time.monotonic() + timeout
    while "progress:" not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)


def stop(process: subprocess.Popen, *signals: signal.Signals) -> tuple[int, float, str]:
    """Send `signals` to the process group; (exit status, seconds to exit, stdout)."""
    started = time.monotonic()
    for sent in signals:
        os.killpg(process.pid, sent)
        time.sleep(0.2)
    out, _ = process.communicate(timeout=60)
    return process.returncode, time.monotonic() - started, out


def corpus_counts(corpus: Corpus) -> tuple[int, int, int]:
    """(authors, papers, active authorships) the whole corpus loads to: the seed author's 11 papers besides."""
    listings = sum(len(author.papers) for author in corpus.authors.values())
    return len(corpus.author_ids()), len(corpus.papers) + 11, listings + 11


def loaded(engine) -> tuple[int, int, int]:
    return (count(engine, Author), count(engine, Paper),
            count(engine, Authorship, Authorship.removed_at.is_(None)))


@pytest.mark.parametrize(("sent", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_stops_it_within_seconds_and_a_rerun_completes_it(prefect_api, tmp_path, sent, status):
    corpus = Corpus(2000)  # ~10 s of work: still running when the signal comes
    database = f"sqlite:///{tmp_path / 'x.db'}"
    with serve_in_thread(Site(corpus)) as base:
        run = start(["run", "--sitemap", f"{base}/sitemap.xml"], tmp_path, {"INGEST_DATABASE_URL": database})
        wait_for_progress(run, tmp_path / "stderr.log")
        time.sleep(2)
        code, seconds, out = stop(run, sent)
        stderr = (tmp_path / "stderr.log").read_text()
        assert code == status, stderr
        assert seconds < STOPPED_WITHIN_S
        assert "Traceback" not in stderr and "Crash" not in stderr
        assert f"{sent.name}: stopping after the writes under way" in stderr and ": interrupted" in out
        engine = make_engine(database)
        (first,) = rows(engine, IngestRun)
        assert first.status == "interrupted" and 0 < first.pages_loaded == first.pages_fetched
        assert first.authors_inserted == loaded(engine)[0] < len(corpus.author_ids())  # part-way, all counted

        again = ingest("-q", "run", "--sitemap", f"{base}/sitemap.xml", cwd=tmp_path, INGEST_DATABASE_URL=database)
    assert again.returncode == 0, again.stderr
    assert loaded(engine) == corpus_counts(corpus)  # nothing lost, nothing twice
    assert [r.status for r in rows(engine, IngestRun)] == ["interrupted", "ok"]


def test_a_second_ctrl_c_stops_at_once_and_a_rerun_still_completes(prefect_api, tmp_path):
    corpus = Corpus(2000)
    database = f"sqlite:///{tmp_path / 'x.db'}"
    # Every batch's write takes 30 s, so the first Ctrl-C finds one under way and waits for it; the second, 0.2 s
    # later, must not.
    slow_writes = {"INGEST_DATABASE_URL": database, "INGEST_FAILPOINT": "load_before_commit:pause=30"}
    with serve_in_thread(Site(corpus)) as base:
        run = start(["run", "--sitemap", f"{base}/sitemap.xml"], tmp_path, slow_writes)
        wait_for_progress(run, tmp_path / "stderr.log")
        time.sleep(5)  # the first batches fetched (under a second on loopback) and their writes begun
        code, seconds, _ = stop(run, signal.SIGINT, signal.SIGINT)
        assert code == 130 and seconds < STOPPED_WITHIN_S
        assert "stopped at once" in (tmp_path / "stderr.log").read_text()
        again = ingest("-q", "run", "--sitemap", f"{base}/sitemap.xml", cwd=tmp_path, INGEST_DATABASE_URL=database)
    assert again.returncode == 0, again.stderr
    assert loaded(make_engine(database)) == corpus_counts(corpus)


def test_without_a_prefect_server_configured_ctrl_c_stops_the_run_and_the_server_it_started(tmp_path):
    """The local Prefect server runs in its own session: the terminal's Ctrl-C does not kill it under the run
    (which would then retry it for minutes), and the run stops it on the way out."""
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PREFECT_API_URL": "",
           "INGEST_DATA_DIR": str(tmp_path / "state")}
    with serve_in_thread(Site(Corpus(300))) as base:
        run = start(["run", "--sitemap", f"{base}/sitemap.xml"], tmp_path, env)
        wait_for_progress(run, tmp_path / "stderr.log", timeout=240)
        code, seconds, out = stop(run, signal.SIGINT)
    assert code == 130 and seconds < STOPPED_WITHIN_S + 5  # and the server's own shutdown
    assert ": interrupted" in out and "Traceback" not in (tmp_path / "stderr.log").read_text()
    assert str(tmp_path / "state" / "prefect") not in [_home_of(pid) for pid in _prefect_servers()]


def _prefect_servers() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "prefect server start"], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def _home_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    return next((v.decode().split("=", 1)[1] for v in environ if v.startswith(b"PREFECT_HOME=")), None)
