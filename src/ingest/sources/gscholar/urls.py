"""Scholar profile addresses: identity is the `user` parameter, whatever the host (scholar.google.com, .de,
.co.uk, ...) or UI language (`hl`); the URL a profile is fetched at is built from the configured host, `hl` and
page size. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import parse_qs, urlencode, urlsplit

from ingest.sources.base import ProfileRef
from ingest.sources.gscholar.fields import NAME

HOSTS = ("scholar.google.com", "scholar.google.*")
# A Scholar user id: 12 characters of base64url in practice; anything else in `user` is not a profile.
_USER = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Where Google sends a client it has stopped serving: its CAPTCHA ("/sorry/"), consent and sign-in pages.
_BLOCK_HOSTS = ("consent.google.*", "accounts.google.*", "consent.youtube.com")
_BLOCK_PATHS = ("/sorry/*", "/servicelogin*", "/v3/signin/*", "/signin/*", "/accounts/*")


@dataclass(frozen=True, slots=True)
class Canonical:
    """How a profile's first page is fetched: which Scholar host, which UI language, how many rows a page."""

    host: str = "scholar.google.com"
    hl: str = "en"
    pagesize: int = 100


def is_scholar_host(host: str) -> bool:
    return any(fnmatchcase(host.lower(), pattern) for pattern in HOSTS)


def query(url: str) -> dict[str, str]:
    """The URL's query parameters, the first value of each."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def user_of(url: str) -> str | None:
    """The `user` of a profile URL (`/citations?user=ID`), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.path.rstrip("/") != "/citations":
        return None
    user = query(url).get("user", "")
    return user if _USER.fullmatch(user) and query(url).get("view_op", "list_works") == "list_works" else None


def profile_ref(url: str, canonical: Canonical) -> ProfileRef | None:
    """The profile `url` shows. On a Scholar host it is fetched at the canonical host; on another host (the
    bundled site, a mirror) at that host, in the same language when the URL names one."""
    user = user_of(url)
    if user is None:
        return None
    parts = urlsplit(url)
    if is_scholar_host(parts.hostname or ""):
        base, hl = f"https://{canonical.host}", canonical.hl
    else:
        base, hl = f"{parts.scheme}://{parts.netloc}", query(url).get("hl") or canonical.hl
    return ProfileRef(NAME, user, f"{base}/citations?{urlencode({'user': user, 'hl': hl, 'pagesize': canonical.pagesize})}")


def page_url(url: str, cstart: int, pagesize: int) -> str:
    """`url` (a profile page) at row offset `cstart`: the walk Scholar's "Show more" button makes."""
    parts = urlsplit(url)
    params = {k: v for k, v in query(url).items() if k not in ("cstart", "pagesize")}
    return parts._replace(query=urlencode({**params, "cstart": cstart, "pagesize": pagesize}), fragment="").geturl()


def is_block_url(url: str) -> bool:
    """A URL Google redirects a blocked client to: its CAPTCHA, consent or sign-in pages."""
    parts = urlsplit(url)
    host, path = (parts.hostname or "").lower(), parts.path.lower()
    return (any(fnmatchcase(host, pattern) for pattern in _BLOCK_HOSTS)
            or any(fnmatchcase(path, pattern) for pattern in _BLOCK_PATHS))
