"""OpenAlex addresses: an author is `/authors/{id}` (its OpenAlex id, or an ORCID), its works a filtered,
cursor-paged `/works` query. Pure functions."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

from ingest.sources.base import ProfileRef
from ingest.sources.openalex.fields import NAME

API = "https://api.openalex.org"
HOSTS = ("api.openalex.org", "openalex.org")
PER_PAGE = 200  # the API's largest page
# What a works page needs of each work: fewer bytes to send, parse and archive than whole work objects.
WORK_FIELDS = ("id,doi,ids,title,display_name,publication_year,publication_date,type,authorships,"
               "is_authors_truncated,primary_location,locations,abstract_inverted_index,cited_by_count")
_AUTHOR_ID = re.compile(r"[Aa]\d{4,12}")
_ORCID = re.compile(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]")
_ID_URL = re.compile(r"https?://(?:www\.)?openalex\.org/([AWSIFCTaw]\d+)")


def short_id(value: str | None) -> str | None:
    """'https://openalex.org/A5017898742' -> 'A5017898742' (ids come as URLs); None stays None."""
    if not value:
        return None
    match = _ID_URL.fullmatch(value.strip())
    return match.group(1).upper() if match else value.strip().rsplit("/", 1)[-1].upper()


def bare_orcid(value: str | None) -> str | None:
    """'https://orcid.org/0000-0002-1825-0097' (or 'orcid:...', or bare) -> '0000-0002-1825-0097'."""
    match = _ORCID.search(value or "")
    return match.group(0) if match else None


def _author_key(path: str) -> str | None:
    """The author a path names: 'A5017898742', or 'orcid:0000-...' for an ORCID; None when it names none."""
    path = path.rstrip("/")
    for prefix in ("/authors/", "/people/", "/"):
        if path.startswith(prefix):
            key = path[len(prefix):]
            if _AUTHOR_ID.fullmatch(key):
                return key.upper()
            if prefix != "/" and (key.lower().startswith(("orcid:", "https://orcid.org/", "http://orcid.org/"))
                                  or _ORCID.fullmatch(key)) and (orcid := bare_orcid(key)):
                return f"orcid:{orcid}"
    return None


def profile_ref(url: str) -> ProfileRef | None:
    """The author `url` names (`api.openalex.org/authors/A…`, `openalex.org/A…`, `/authors/orcid:…`; on another
    host, such as the bundled site, `/authors/…` only). On OpenAlex's hosts it is fetched from the API."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    path = parts.path
    if host not in HOSTS and not path.startswith(("/authors/", "/people/")):
        return None
    key = _author_key(path)
    if key is None:
        return None
    base = API if host in HOSTS else f"{parts.scheme}://{parts.netloc}"
    return ProfileRef(NAME, key, f"{base}/authors/{key}")


def works_url(author_url: str, author_id: str, cursor: str = "*") -> str:
    """The first (or the `cursor`'s) page of the author's works, on the host the author was fetched from."""
    parts = urlsplit(author_url)
    query = urlencode({"filter": f"author.id:{author_id}", "per-page": PER_PAGE, "select": WORK_FIELDS,
                       "cursor": cursor}, safe=":,*")
    return f"{parts.scheme}://{parts.netloc}/works?{query}"


def with_params(url: str, **params: str | int) -> str:
    """`url` with `params` set (replacing any of the same name), the others kept in order."""
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    return parts._replace(query=urlencode({**query, **params}, safe=":,*"), fragment="").geturl()


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
