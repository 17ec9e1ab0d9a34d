"""A deterministic corpus of author profiles for the bundled site: the seed author plus N generated.

Generated authors share papers (co-authors inside the corpus), long lists are paginated, and
papers never reuse the seed's. Nothing is pre-rendered: cards are rendered on demand and cached,
so a corpus of thousands of profiles costs little memory until it is served.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from ingest.records import AuthorRecord, Observation, PaperRecord
from ingest.site.render import render_paper, render_profile_page
from ingest.sources.base import Origin
from ingest.sources.scholarfeed.fields import NAME

SEED_PAGE = Path(__file__).with_name("pages") / "author-1.html"
SEED_AUTHORS = SEED_PAGE.with_name("seed-authors.json")  # the seed's papers' whole bylines
SEED_AUTHOR_ID = 1
FIRST_GENERATED_ID = 1001
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)

_FIRST = ("Ada Alan Anya Ben Chen Dara Elif Emil Farah Gil Hana Ivan Jia Kofi Lena Luis Maya Nils Omar Priya "
          "Quinn Rosa Sami Tara Umar Vera Wen Xin Yara Zoe Aiko Bram Cleo Dev Esme Femi Goran Hugo Ines Jonas").split()
_LAST = ("Abbott Bauer Costa Diaz Eriksen Fischer Garcia Haddad Ito Jensen Kumar Larsen Moreau Novak Okafor Park "
         "Quispe Rossi Sato Tanaka Ueda Varga Weber Xu Yilmaz Zhou Alvarez Brandt Cohen Dubois").split()
_ADJ = ("Scalable Robust Sparse Adaptive Efficient Provable Federated Stochastic Implicit Contrastive Causal "
        "Bayesian Differentiable Hierarchical Continual Distributed Equivariant Lightweight Private Neural").split()
_NOUN = ("Optimization Attention Regularization Transformers Sampling Pretraining Distillation Quantization "
         "Retrieval Alignment Compression Inference Embeddings Planning Tokenization Routing Pruning Diffusion "
         "Calibration Augmentation").split()
_TOPIC = ("Language Models|Graph Learning|Vision Tasks|Speech Recognition|Time Series|Recommendation|"
          "Reinforcement Learning|Tabular Data|Code Generation|Protein Design|Robotics|Federated Clients|"
          "Edge Devices|Long Contexts|Multimodal Agents|Scientific Text|Medical Imaging|Climate Data").split("|")
_CATEGORIES = ("LG", "CL", "CV", "AI", "OC", "ST", "IR", "RO")
_ORGS = ("deepmind", "mila", "tsinghua", "amazon-science", "baidu", "inria", "eth-zurich", "cmu", "meta-ai")
_WORDS = ("we propose method model data training results show that our approach improves performance "
          "across benchmarks while reducing cost analysis bounds experiments theory learning networks "
          "gradient loss representation generalization robust efficient novel framework algorithm").split()


def _sentences(count: int = 256) -> list[str]:
    rng = random.Random(2026)
    out = []
    for _ in range(count):
        words = rng.choices(_WORDS, k=rng.randint(12, 24))
        out.append(" ".join(words).capitalize() + ".")
    return out


_SENTENCES = _sentences()


@dataclass(slots=True)
class GeneratedPaper:
    index: int
    corpus_authors: tuple[int, ...]  # corpus author ids, in byline order
    external_authors: int  # further co-authors outside the corpus


@dataclass(slots=True)
class GeneratedAuthor:
    author_id: int
    name: str
    papers: list[int] = field(default_factory=list)  # paper indexes, in listing order
    revision: int = 0  # bumped by every change, so validators and Last-Modified move


class Corpus:
    """The site's content. `profiles` counts generated authors, not the seed author."""

    def __init__(self, profiles: int, *, seed: int = 7, page_size: int = 100, mean_papers: int = 50) -> None:
        self.profiles = profiles
        self.seed = seed
        self.page_size = page_size
        self.authors: dict[int, GeneratedAuthor] = {}
        self.papers: list[GeneratedPaper] = []
        self._seed_html = SEED_PAGE.read_text(encoding="utf-8")
        self._generate(mean_papers)
        self.card = lru_cache(maxsize=100_000)(self._render_card)

    # -- generation ---------------------------------------------------------------------------
    def _generate(self, mean_papers: int) -> None:
        rng = random.Random(self.seed)
        ids = list(range(FIRST_GENERATED_ID, FIRST_GENERATED_ID + self.profiles))
        for n, author_id in enumerate(ids):
            first, last = _FIRST[n % len(_FIRST)], _LAST[(n // len(_FIRST)) % len(_LAST)]
            suffix = f" {chr(65 + n // (len(_FIRST) * len(_LAST)) % 26)}." if n >= len(_FIRST) * len(_LAST) else ""
            self.authors[author_id] = GeneratedAuthor(author_id, f"{first}{suffix} {last}")
        for n, author_id in enumerate(ids):
            # Mostly around the mean, one in ten long enough to span several pages.
            target = rng.randint(mean_papers * 2, mean_papers * 5) if rng.random() < 0.1 else rng.randint(
                max(1, mean_papers // 3), mean_papers + mean_papers // 2)
            while len(self.authors[author_id].papers) < target:
                window = ids[max(0, n - 15): n + 16]
                coauthors = [a for a in rng.sample(window, min(len(window), rng.randint(0, 3))) if a != author_id]
                byline = [author_id, *coauthors]
                rng.shuffle(byline)
                paper = GeneratedPaper(len(self.papers), tuple(byline), rng.choice((0, 0, 1, 2)))
                self.papers.append(paper)
                for a in byline:
                    self.authors[a].papers.append(paper.index)

    # -- records ------------------------------------------------------------------------------
    def paper_record(self, index: int, *, full: bool = False) -> PaperRecord:
        """The paper as Scholar Feed cards show it (three authors, then "et al."), or `full`: with its whole byline,
        as the bundled OpenAlex and arXiv APIs give it."""
        paper = self.papers[index]
        rng = random.Random(self.seed * 1_000_003 + index)
        a, b, c = len(_ADJ), len(_NOUN), len(_TOPIC)
        title = f"{_ADJ[index % a]} {_NOUN[index // a % b]} for {_TOPIC[index // (a * b) % c]}"
        if index >= a * b * c:
            title += f": Part {index // (a * b * c) + 1}"
        published = date(2012, 1, 1) + timedelta(days=rng.randrange(14 * 365))
        names = [self.authors[x].name for x in paper.corpus_authors]
        names += [f"{_FIRST[(index + k) % len(_FIRST)]} Extern{k}" for k in range(paper.external_authors)]
        has_code = rng.random() < 0.3
        abstract = " ".join(_SENTENCES[(index * 7 + k * 31) % len(_SENTENCES)] for k in range(rng.randint(6, 10)))
        category = _CATEGORIES[rng.randrange(len(_CATEGORIES))]
        return PaperRecord(
            title=title,
            year=published.year,
            published_on=published,
            authors=names if full else names[:3],
            authors_truncated=not full and len(names) > 3,
            abstract=abstract,
            # Synthetic ids in arXiv's yymm.number shape; the number is unique per paper.
            arxiv_id=f"{published:%y%m}.{90000 + index}",
            source_fields={NAME: {
                "category": category,
                "has_code": has_code,
                "code_url": f"https://github.com/example-lab/paper-{index}" if has_code else None,
                "orgs": rng.sample(_ORGS, rng.choice((0, 0, 1, 2))),
            }},
        )

    @functools.cached_property
    def _seed(self) -> Observation:
        from ingest.sources.scholarfeed.extract import extract  # the seed page's records are what it shows

        body = self._seed_html.encode()
        return extract(body, Origin.of(f"https://scholarfeed.org/author/{SEED_AUTHOR_ID}", body, EPOCH))

    @functools.cached_property
    def seed_papers(self) -> list[PaperRecord]:
        """The seed author's papers as its page shows them, with the whole byline where `SEED_AUTHORS` has it."""
        full = json.loads(SEED_AUTHORS.read_text(encoding="utf-8"))
        return [p.model_copy(update={"authors": full[p.arxiv_id], "authors_truncated": False})
                if p.arxiv_id in full else p for p in self._seed.papers]

    @functools.cached_property
    def author_by_name(self) -> dict[str, int]:
        """Corpus authors' ids by name: who a byline's names are, for the APIs that link authors by id."""
        return {self.author(a).name: a for a in self.author_ids()}

    def author(self, author_id: int) -> AuthorRecord:
        """Any author's record, the seed's included (as its page shows it)."""
        return self._seed.author if author_id == SEED_AUTHOR_ID else self.author_record(author_id)

    def listing(self, author_id: int) -> list[tuple[str, PaperRecord]]:
        """An author's papers in listing order, whole bylines, each with a key stable across runs ('seed-3', '17')."""
        if author_id == SEED_AUTHOR_ID:
            return [(f"seed-{i}", paper) for i, paper in enumerate(self.seed_papers)]
        return [(str(i), self.paper_record(i, full=True)) for i in self.authors[author_id].papers]

    def author_record(self, author_id: int) -> AuthorRecord:
        author = self.authors[author_id]
        rng = random.Random(self.seed * 7_919 + author_id)
        count = len(author.papers)
        citations = rng.randint(count * 5, count * 400) + 17 * author.revision
        category = _CATEGORIES[rng.randrange(len(_CATEGORIES))]
        h_index = min(count, rng.randint(1, 90))
        return AuthorRecord(
            source=NAME,
            source_id=str(author_id),
            name=author.name,
            profile_url=f"/author/{author_id}",
            h_index=h_index,
            citations=citations,
            paper_count=count,
            source_metrics={"novelty_pct": rng.randint(5, 95), "ai_score": rng.randint(1, 99)},
            source_fields={"category": category},
        )

    def _render_card(self, index: int) -> str:
        return render_paper(self.paper_record(index))

    # -- pages --------------------------------------------------------------------------------
    def author_ids(self) -> list[int]:
        return [SEED_AUTHOR_ID, *self.authors]

    def page_count(self, author_id: int) -> int:
        if author_id == SEED_AUTHOR_ID:
            return 1
        return max(1, -(-len(self.authors[author_id].papers) // self.page_size))

    def version(self, author_id: int) -> int:
        return 0 if author_id == SEED_AUTHOR_ID else self.authors[author_id].revision

    def last_modified(self, author_id: int) -> datetime:
        return EPOCH + timedelta(hours=self.version(author_id))

    def render(self, author_id: int, page: int) -> str:
        """The HTML of one page (1-based) of an author's profile. KeyError/IndexError if absent."""
        if author_id == SEED_AUTHOR_ID:
            if page != 1:
                raise IndexError(page)
            return self._seed_html
        pages = self.page_count(author_id)
        if not 1 <= page <= pages:
            raise IndexError(page)
        listing = self.authors[author_id].papers
        start = (page - 1) * self.page_size
        path = f"/author/{author_id}"
        return render_profile_page(
            self.author_record(author_id),
            [self.card(i) for i in listing[start: start + self.page_size]],
            first_position=start + 1,
            prev_href=(f"{path}?page={page - 1}" if page > 2 else path) if page > 1 else None,
            next_href=f"{path}?page={page + 1}" if page < pages else None,
        )

    # -- changes, for refresh scenarios ---------------------------------------------------------
    def bump_citations(self, author_id: int) -> None:
        """The author's metrics change (citations rise); their listing stays."""
        self.authors[author_id].revision += 1

    def add_paper(self, author_id: int, coauthors: tuple[int, ...] = ()) -> int:
        """A new paper appears at the top of the author's (and co-authors') listings."""
        paper = GeneratedPaper(len(self.papers), (author_id, *coauthors), 0)
        self.papers.append(paper)
        for a in paper.corpus_authors:
            self.authors[a].papers.insert(0, paper.index)
            self.authors[a].revision += 1
        return paper.index

    def drop_paper(self, author_id: int, index: int) -> None:
        """A paper is no longer listed on the author's profile."""
        self.authors[author_id].papers.remove(index)
        self.authors[author_id].revision += 1
