"""Scholar-like profiles for the bundled site: our own generated markup in the structure of real Google Scholar
pages (ids, classes, table layout), in more than one UI language and in the older layout, with Scholar's
robots.txt rules, its "Show more" paging by `cstart`, rows-only answers, and the ways it blocks a client
(a CAPTCHA page answered 200, a redirect to /sorry/ that answers 429, consent and sign-in redirects).

`route(profiles, target)` answers a request for `/citations?...` or `/sorry/...` as (status, body, headers), or
None for any other path; `ingest.site.server` calls it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qs, quote, urlsplit

ROBOTS_RULES = "Disallow: /citations?*cstart=\nAllow: /citations?user=\n"  # as scholar.google.com's, for all agents
HTML = {"Content-Type": "text/html; charset=utf-8"}
BLOCKS = ("captcha", "sorry", "consent", "signin", "429")

# Each language's labels: nothing of ingest reads them, which is the point of serving more than one.
LABELS = {
    "en": {"all": "All", "since": "Since {year}", "metrics": ("Citations", "h-index", "i10-index"),
           "email": "Verified email at {domain}", "homepage": "Homepage", "title": "Title", "cited": "Cited by",
           "year": "Year", "more": "Show more", "coauthors": "Co-authors", "articles": "Articles {a}–{b}"},
    "de": {"all": "Alle", "since": "Seit {year}", "metrics": ("Zitate", "h-index", "i10-index"),
           "email": "Bestätigte E-Mail-Adresse bei {domain}", "homepage": "Startseite", "title": "Titel",
           "cited": "Zitiert von", "year": "Jahr", "more": "Mehr anzeigen", "coauthors": "Koautoren",
           "articles": "Artikel {a}–{b}"},
}
_NAMES = "Ada Lovell|Bruno Keller|Chiara Fontana|Dmitri Orlov|Eun-ji Park|Femi Adeyemi|Greta Sörensen|Hugo Marchand"
_WORDS = ("bounded rationality decision making memory chess expertise learning search problem solving heuristics "
          "organizations perception cognition models").split()


@dataclass(slots=True)
class Row:
    row_id: str
    title: str
    authors: str  # as shown: "A Lovell, B Keller, ..."
    venue: str
    year: int | None
    cited_by: int | None


@dataclass(slots=True)
class Profile:
    user: str
    name: str
    lang: str = "en"
    layout: str = "new"  # "old": rows link by href, no gsc_a_at class, "Google Scholar Citations" title
    affiliation: str = "Bundled University"
    domain: str = "bundled.example"
    interests: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    since_year: int = 2021
    chart: dict[int, int] = field(default_factory=dict)
    coauthors: list[tuple[str, str]] = field(default_factory=list)  # (user, name)
    block: str | None = None  # one of BLOCKS: how the next request for it is refused

    def metrics(self) -> list[tuple[int, int]]:
        cited = sorted((r.cited_by or 0 for r in self.rows), reverse=True)
        recent = sum(self.chart.get(y, 0) for y in self.chart if y >= self.since_year)
        h = sum(1 for i, c in enumerate(cited, 1) if c >= i)
        return [(sum(cited), recent), (h, max(0, h - 1)), (sum(c >= 10 for c in cited), sum(c >= 20 for c in cited))]


def generate(user: str, rows: int, *, lang: str = "en", layout: str = "new", seed: int = 0) -> Profile:
    """A deterministic profile of `rows` rows; some author lists cut with "...", some cells empty."""
    rng = random.Random(f"{user}-{seed}")
    name = rng.choice(_NAMES.split("|"))
    initials = "".join(part[0] for part in name.split())
    listed = []
    for i in range(rows):
        others = [f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNOP')} {rng.choice(_NAMES.split('|')).split()[1]}"
                  for _ in range(rng.randint(0, 6))]
        authors = ", ".join([f"{initials} {name.split()[-1]}", *others[:4]]) + (", ..." if len(others) > 4 else "")
        year = None if i % 9 == 8 else 1990 + rng.randint(0, 35)
        listed.append(Row(f"r{i:04d}{rng.randint(0, 9999):04d}", " ".join(rng.choices(_WORDS, k=5)).capitalize()
                          + f" ({i + 1})", authors, f"Journal of {rng.choice(_WORDS).title()} {rng.randint(1, 60)}",
                          year, None if i % 11 == 10 else rng.randint(0, 5000) // (i + 1)))
    chart = {year: rng.randint(1, 900) for year in range(2012, 2026) if year != 2015}  # 2015: no bar
    return Profile(user, name, lang, layout, interests=rng.sample(_WORDS, 3), rows=listed, chart=chart,
                   coauthors=[("co" + user[2:], rng.choice(_NAMES.split("|")))])


def default_profiles() -> dict[str, Profile]:
    """The bundled site's Scholar profiles: English, German, the older layout, and one past 100 rows."""
    made = [generate("gsEnglish0AJ", 30), generate("gsDeutsch0AJ", 12, lang="de"),
            generate("gsOldLayoAJ", 8, layout="old"), generate("gsManyRowsAJ", 130)]
    return {p.user: p for p in made}


def _params(target: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(target).query, keep_blank_values=True).items()}


def route(profiles: dict[str, Profile], target: str) -> tuple[int, bytes, dict[str, str]] | None:
    path, params = urlsplit(target).path, _params(target)
    if path.startswith("/sorry/"):
        return 429, _captcha().encode(), HTML
    if path != "/citations":
        return None
    profile = profiles.get(params.get("user", ""))
    if profile is None:
        return 404, b"no such profile\n", {"Content-Type": "text/plain"}
    if profile.block:
        return _blocked(profile.block, target)
    try:
        cstart, pagesize = int(params.get("cstart", 0)), min(int(params.get("pagesize", 20)), 100)
    except ValueError:
        return 400, b"bad paging\n", {"Content-Type": "text/plain"}
    if cstart:  # what the "Show more" button fetches: rows only
        return 200, render_rows(profile, cstart, pagesize).encode(), HTML
    return 200, render_profile(profile, pagesize).encode(), HTML


def _blocked(kind: str, target: str) -> tuple[int, bytes, dict[str, str]]:
    back = quote(target, safe="")
    return {
        "captcha": (200, _captcha().encode(), HTML),
        "429": (429, _captcha().encode(), {**HTML, "Retry-After": "3600"}),
        "sorry": (302, b"", {"Location": f"/sorry/index?continue={back}"}),
        "consent": (302, b"", {"Location": f"https://consent.google.com/ml?continue={back}"}),
        "signin": (302, b"", {"Location": f"https://accounts.google.com/ServiceLogin?continue={back}"}),
    }[kind]


def _captcha() -> str:
    return ('<!DOCTYPE html><html><head><title>https://scholar.google.com/</title></head><body>'
            '<div id="gs_captcha_ccl"><h1>Please show you\'re not a robot</h1><form id="gs_captcha_f" '
            'method="post" action="/sorry/index"><div class="g-recaptcha" data-sitekey="x"></div></form></div>'
            '</body></html>')


def _row(profile: Profile, row: Row) -> str:
    link = f"/citations?view_op=view_citation&amp;hl={profile.lang}&amp;user={profile.user}" \
           f"&amp;citation_for_view={profile.user}:{row.row_id}"
    title = (f'<a href="{link}">{escape(row.title)}</a>' if profile.layout == "old" else
             f'<a href="javascript:void(0)" data-href="{link}" class="gsc_a_at">{escape(row.title)}</a>')
    old = profile.layout == "old"  # before the year suffix and the cited-by link's class
    year = f'<span class="gs_oph">, {row.year}</span>' if row.year and not old else ""
    cited = "" if row.cited_by is None else str(row.cited_by)
    cited_class = "" if old else ' class="gsc_a_ac gs_ibl"'
    return (f'<tr class="gsc_a_tr"><td class="gsc_a_t">{title}<div class="gs_gray">{escape(row.authors)}</div>'
            f'<div class="gs_gray">{escape(row.venue)}{year}</div></td><td class="gsc_a_c">'
            f'<a href="/scholar?cites={row.row_id}"{cited_class}>{cited}</a></td>'
            f'<td class="gsc_a_y"><span class="gsc_a_h gsc_a_hc gs_ibl">{row.year or ""}</span></td></tr>')


def render_rows(profile: Profile, cstart: int, pagesize: int) -> str:
    """The rows a "Show more" click loads: bare <tr> elements, no table around them."""
    return "".join(_row(profile, row) for row in profile.rows[cstart: cstart + pagesize])


def _chart(profile: Profile) -> str:
    years = list(range(min(profile.chart), max(profile.chart) + 1)) if profile.chart else []
    labels = "".join(f'<span class="gsc_g_t" style="right:{8 + 32 * (len(years) - 1 - i)}px">{y}</span>'
                     for i, y in enumerate(years))
    bars = "".join(f'<a href="javascript:void(0)" class="gsc_g_a" style="right:{8 + 32 * (len(years) - 1 - i)}px;'
                   f'height:10px;z-index:{len(years) - i}"><span class="gsc_g_al">{profile.chart[y]}</span></a>'
                   for i, y in enumerate(years) if y in profile.chart)
    return f'<div class="gsc_md_hist_b">{labels}{bars}</div>' if years else ""


def render_profile(profile: Profile, pagesize: int) -> str:
    """The profile's first page: header, metrics table, chart, co-authors, its first `pagesize` rows."""
    t = LABELS[profile.lang]
    metrics = "".join(f'<tr><td class="gsc_rsb_sc1"><a href="javascript:void(0)" class="gsc_rsb_f gs_ibl">{label}'
                      f'</a></td><td class="gsc_rsb_std">{a}</td><td class="gsc_rsb_std">{b}</td></tr>'
                      for label, (a, b) in zip(t["metrics"], profile.metrics()))
    shown = profile.rows[:pagesize]
    more = "" if len(profile.rows) > pagesize else " disabled"
    interests = "".join(f'<a href="/citations?view_op=search_authors&amp;mauthors=label:{w}" class="gsc_prf_inta '
                        f'gs_ibl">{w}</a>' for w in profile.interests)
    coauthors = "".join(f'<li><span class="gsc_rsb_a_desc"><a href="/citations?user={u}&amp;hl={profile.lang}">'
                        f'{escape(n)}</a></span></li>' for u, n in profile.coauthors)
    title = "Google Scholar Citations" if profile.layout == "old" else "Google Scholar"
    canonical = f"https://scholar.google.com/citations?user={profile.user}&amp;hl={profile.lang}"
    return (
        f'<!DOCTYPE html><html lang="{profile.lang}"><head><title>{escape(profile.name)} - {title}</title>'
        f'<link rel="canonical" href="{canonical}"></head><body><div id="gsc_bdy">'
        f'<div id="gsc_rsb"><div id="gsc_rsb_cit"><table id="gsc_rsb_st"><thead><tr><th class="gsc_rsb_sth"></th>'
        f'<th class="gsc_rsb_sth">{t["all"]}</th><th class="gsc_rsb_sth">{t["since"].format(year=profile.since_year)}'
        f'</th></tr></thead><tbody>{metrics}</tbody></table>{_chart(profile)}</div>'
        f'<div id="gsc_rsb_co"><h3>{t["coauthors"]}</h3><ul class="gsc_rsb_a">{coauthors}</ul></div></div>'
        f'<div id="gsc_prf_w"><div id="gsc_prf_i"><div id="gsc_prf_in">{escape(profile.name)}</div>'
        f'<div class="gsc_prf_il">{escape(profile.affiliation)}</div><div class="gsc_prf_il" id="gsc_prf_ivh">'
        f'{t["email"].format(domain=profile.domain)} - <a href="https://{profile.domain}/" rel="nofollow" '
        f'class="gsc_prf_ila">{t["homepage"]}</a></div><div class="gsc_prf_il" id="gsc_prf_int">{interests}</div>'
        f'</div></div><table id="gsc_a_t"><thead><tr id="gsc_a_trh"><th class="gsc_a_t">{t["title"]}</th>'
        f'<th class="gsc_a_c">{t["cited"]}</th><th class="gsc_a_y">{t["year"]}</th></tr></thead><tbody id="gsc_a_b">'
        f'{"".join(_row(profile, row) for row in shown)}</tbody></table><div id="gsc_lwp"><span id="gsc_a_nn">'
        f'{t["articles"].format(a=1, b=len(shown))}</span><button type="button" id="gsc_bpf_more"{more}>'
        f'<span class="gs_lbl">{t["more"]}</span></button></div></div></body></html>'
    )
