"""Render profile pages in Scholar Feed's markup (the format `ingest.sources.scholarfeed` reads).

Every piece of page text goes through `escape`: page text is data, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ingest.records import AuthorRecord, PaperRecord
from ingest.sources.scholarfeed.fields import NAME

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _metric(label: str, value: str, *, value_first: bool = False) -> str:
    dt, dd = f"<dt>{escape(label)}</dt>", f"<dd>{escape(value)}</dd>"
    return f'<div class="metric">{dd + dt if value_first else dt + dd}</div>'


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def render_paper(paper: PaperRecord) -> str:
    own = paper.source_fields.get(NAME, {})
    meta = []
    if own.get("category"):
        meta.append(f'<span class="paper-category">{escape(own["category"])}</span>')
    if paper.published_on:
        d = paper.published_on
        meta.append(
            f'<time datetime="{d.isoformat()}">{_MONTHS[d.month - 1]} {d.day}, {d.year}</time>'
        )
    if own.get("has_code"):
        meta.append(f'<a class="code-badge" href="{escape(own.get("code_url") or "")}" rel="nofollow">Code</a>')
    href = f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else ""
    title = escape(paper.title)
    title_html = f'<a href="{escape(href)}">{title}</a>' if href else title
    names = ", ".join(f'<span class="author">{escape(n)}</span>' for n in paper.authors)
    if paper.authors_truncated:
        names += ' <span class="et-al">et al.</span>'
    orgs = ""
    if own.get("orgs"):
        tags = ", ".join(f'<span class="org">{escape(o)}</span>' for o in own["orgs"])
        orgs = f' <span class="paper-orgs"><span aria-hidden="true">·</span> {tags}</span>'
    doi = f'<a class="doi" href="https://doi.org/{escape(paper.doi)}" hidden></a>' if paper.doi else ""
    abstract = escape(paper.abstract or "")
    return (
        '<li><article class="paper-card">\n'
        f'<div class="paper-meta">{"".join(meta)}</div>\n'
        f'<h3 class="paper-title">{title_html}</h3>{doi}\n'
        f'<p class="paper-byline">{names}{orgs}</p>\n'
        f'<p class="paper-abstract">{abstract}</p>\n'
        "</article></li>\n"
    )


def render_profile_page(
    author: AuthorRecord,
    papers: Sequence[PaperRecord] | Sequence[str],
    *,
    first_position: int = 1,
    prev_href: str | None = None,
    next_href: str | None = None,
) -> str:
    """One page of an author's profile; `papers` may be pre-rendered cards (`render_paper`)."""
    cards = "".join(p if isinstance(p, str) else render_paper(p) for p in papers)
    novelty, ai_score = author.source_metrics.get("novelty_pct"), author.source_metrics.get("ai_score")
    metrics = "".join(
        (
            _metric("h-index", _num(author.h_index)),
            _metric("papers", _num(author.paper_count), value_first=True),
            _metric("citations", _num(author.citations), value_first=True),
            _metric("Novelty", f"{novelty}%" if novelty is not None else ""),
            _metric("AI Score", _num(ai_score)),
        )
    )
    links = []
    if prev_href:
        links.append(f'<a rel="prev" href="{escape(prev_href)}">Previous</a>')
    if next_href:
        links.append(f'<a rel="next" href="{escape(next_href)}">Next</a>')
    pagination = f'<nav class="pagination">{" ".join(links)}</nav>\n' if links else ""
    name = escape(author.name)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{name} · Scholar Feed</title>\n"
        f'<link rel="canonical" href="https://scholarfeed.org/author/{escape(author.source_id)}">\n'
        "</head>\n<body>\n<main>\n"
        f'<header class="author-header" data-author-id="{escape(author.source_id)}">\n'
        f'<h1 class="author-name">{name}</h1>\n'
        f'<span class="category-badge">{escape(author.source_fields.get("category") or "")}</span>\n'
        f'<dl class="author-metrics">{metrics}</dl>\n'
        "</header>\n"
        '<section class="papers">\n'
        f'<h2>{_num(author.paper_count)} Papers</h2>\n'
        f'<ol class="paper-list" start="{first_position}">\n{cards}</ol>\n'
        f"{pagination}</section>\n</main>\n</body>\n</html>\n"
    )
