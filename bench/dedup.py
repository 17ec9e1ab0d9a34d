"""`python -m bench.dedup [--pairs N] [--threshold T]`: precision and recall of the fuzzy paper match
(`ingest.match`) on a labelled corpus generated here, and, with `--sweep`, across thresholds.

The corpus holds pairs of records known to be one paper — spelled differently (case, punctuation, accents
and ligatures, Unicode normal forms, LaTeX markup), with and without a subtitle, dated by preprint and by
publication, with a byline cut short or in initials, with a typo — and hard pairs known to be two: generic
titles ("Introduction") by different people, one title in different years by different authors, versions of
a survey years apart, the parts of a series, titles a word apart by the same author.
"""

from __future__ import annotations

import argparse
import random
import unicodedata
from dataclasses import dataclass

from ingest.match import THRESHOLD, fingerprint, same_paper
from ingest.records import PaperRecord

_GIVEN = ("Sashank Zachary Manzil Keith Jakub Sanjiv Brendan Yang Jing Cho-Jui Ankit Aditya Wittawat Felix Satyen "
          "Ada Bruno Chiara Dmitri Eun-ji Femi Greta Hugo Ines Jonas Kofi Lena Maya Nils Omar Priya").split()
_FAMILY = ("Reddi Charles Zaheer Rush Konečný Kumar McMahan You Li Hsieh Rawat Menon Jitkrittum Yu Kale Lovell "
           "Keller Fontana Orlov Park Adeyemi Sörensen Marchand Müller Ødegaard Çelik Nguyễn García Björk Łukasz").split()
_ADJ = ("Scalable Robust Sparse Adaptive Efficient Provable Federated Stochastic Implicit Contrastive Causal "
        "Bayesian Differentiable Hierarchical Continual Distributed Equivariant Lightweight Private Naïve").split()
_NOUN = ("Optimization Attention Regularization Transformers Sampling Pretraining Distillation Quantization "
         "Retrieval Alignment Compression Inference Embeddings Planning Tokenization Routing Pruning Diffusion").split()
_TOPIC = ("Language Models|Graph Learning|Vision Tasks|Speech Recognition|Time Series|Recommendation|"
          "Reinforcement Learning|Tabular Data|Code Generation|Protein Design|Schrödinger Bridges|Poincaré Embeddings|"
          "Edge Devices|Long Contexts|Multimodal Agents|Erdős–Rényi Graphs|Medical Imaging|Climate Data").split("|")
_SUBTITLES = ("A Unified Analysis", "Theory and Practice", "Beyond the Worst Case", "A Case Study",
              "Lessons from Production", "An Empirical Study")
_GENERIC = ("Introduction", "Preface", "Editorial", "Conclusion", "Discussion", "Reply to the Comments",
            "Foreword", "Summary", "Erratum", "Acknowledgements")
_LATEX = {"ö": '\\"{o}', "é": "\\'{e}", "ő": "\\H{o}", "é": "\\'e", "ï": '\\"{\\i}', "ü": '\\"u', "ç": "\\c{c}"}
_LIGATURES = {"fi": "ﬁ", "fl": "ﬂ", "ff": "ﬀ"}


@dataclass(frozen=True, slots=True)
class Pair:
    a: PaperRecord
    b: PaperRecord
    same: bool
    kind: str


def _byline(rng: random.Random, k: int | None = None) -> list[str]:
    return [f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}" for _ in range(k or rng.randint(2, 9))]


def _title(rng: random.Random) -> str:
    title = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} for {rng.choice(_TOPIC)}"
    if rng.random() < 0.3:
        title = f"On {title}" if rng.random() < 0.5 else f"Towards {title}"
    if rng.random() < 0.4:
        title += f" with {rng.choice(_ADJ)} {rng.choice(_NOUN)}"
    return title


def _paper(title: str, year: int, authors: list[str], **fields) -> PaperRecord:
    return PaperRecord(title=title, year=year, authors=authors, **fields)


# -- spellings of one paper -----------------------------------------------------------------------

def _case(rng, t):
    return rng.choice((t.upper(), t.lower(), t.title(), t.capitalize()))


def _punctuation(rng, t):
    return rng.choice((t.replace(" for ", ", for "), t + ".", t.replace("-", " "), f"“{t}”", t.replace(" ", "  ")))


def _unicode(rng, t):
    plain = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    ligatured = t
    for pair, ligature in _LIGATURES.items():
        ligatured = ligatured.replace(pair, ligature)
    return rng.choice((plain, unicodedata.normalize("NFD", t), ligatured, t.replace(" ", "\u00a0"),
                       unicodedata.normalize("NFKC", t).replace("-", "\u2010")))


def _latex(rng, t):
    for char, markup in _LATEX.items():
        t = t.replace(char, markup)
    words = t.split()
    i = rng.randrange(len(words))
    words[i] = rng.choice((f"\\emph{{{words[i]}}}", f"\\textbf{{{words[i]}}}", f"{{{words[i]}}}"))
    return " ".join(words)


def _subtitle(rng, t):
    return f"{t}{rng.choice((': ', ' - ', ' — '))}{rng.choice(_SUBTITLES)}"


def _typo(rng, t):
    i = rng.randrange(len(t) // 2, len(t))
    return t[:i] + rng.choice("aeiourstn") + t[i + 1:]


SPELLINGS = {"case": _case, "punctuation": _punctuation, "unicode": _unicode, "latex": _latex,
             "subtitle": _subtitle, "typo": _typo}


def positives(rng: random.Random, n: int) -> list[Pair]:
    out = []
    for i in range(n):
        title, year, authors = _title(rng), rng.randint(2005, 2025), _byline(rng)
        original = _paper(title, year, authors, arxiv_id=f"{year % 100:02d}{rng.randint(1, 12):02d}.{i:05d}")
        kind = rng.choice((*SPELLINGS, "published", "truncated", "initials", "journal_doi", "combined"))
        fields: dict = {"title": SPELLINGS[kind](rng, title) if kind in SPELLINGS else title,
                        "year": year, "authors": authors}
        if kind == "combined":  # two spellings at once, a cut byline, a year off
            first, second = rng.sample(sorted(SPELLINGS), 2)
            fields |= {"title": SPELLINGS[second](rng, SPELLINGS[first](rng, title)), "authors": authors[:3],
                       "authors_truncated": len(authors) > 3, "year": year + rng.randint(0, 1)}
            kind = f"combined {first}+{second}"
        if kind == "published":  # the journal version a year after the preprint, its DOI instead of the arXiv id
            fields |= {"year": year + 1, "doi": f"10.5555/j.{i}", "title": _case(rng, title)}
        elif kind == "truncated":
            fields |= {"authors": authors[:3], "authors_truncated": len(authors) > 3}
        elif kind == "initials":
            fields["authors"] = [f"{n.split()[0][0]} {n.split()[-1]}" for n in authors]
        elif kind == "journal_doi":
            fields |= {"doi": f"10.5555/j.{i}"}
        out.append(Pair(original, PaperRecord(**fields), True, kind))
    return out


def negatives(rng: random.Random, n: int) -> list[Pair]:
    out = []
    for _ in range(n):
        kind = rng.choice(("generic", "same_title_years_apart", "survey_versions", "series", "word_apart",
                           "adjective_apart"))
        year = rng.randint(2005, 2023)
        if kind == "generic":
            title = rng.choice(_GENERIC)
            a, b = _paper(title, year, _byline(rng, 1)), _paper(title, year + rng.randint(0, 1), _byline(rng, 1))
            if a.authors == b.authors:
                continue
        elif kind == "same_title_years_apart":
            title = _title(rng)
            a, b = _paper(title, year, _byline(rng)), _paper(title, year + rng.randint(2, 10), _byline(rng))
        elif kind == "survey_versions":
            title, authors = f"A Survey of {rng.choice(_TOPIC)}", _byline(rng)
            a, b = _paper(title, year, authors), _paper(title, year + rng.randint(2, 6), authors)
        elif kind == "series":
            title, authors = _title(rng), _byline(rng)
            part = rng.randint(1, 3)
            a, b = _paper(f"{title}: Part {part}", year, authors), _paper(f"{title}: Part {part + 1}", year, authors)
        elif kind == "adjective_apart":  # the same group's next paper: one word of the title differs
            authors, noun, topic = _byline(rng), rng.choice(_NOUN), rng.choice(_TOPIC)
            first, second = rng.sample(_ADJ, 2)
            a, b = _paper(f"{first} {noun} for {topic}", year, authors), _paper(f"{second} {noun} for {topic}",
                                                                                year + rng.randint(0, 1), authors)
        else:
            authors, adj, noun = _byline(rng), rng.choice(_ADJ), rng.choice(_NOUN)
            first, second = rng.sample(_TOPIC, 2)
            a, b = _paper(f"{adj} {noun} for {first}", year, authors), _paper(f"{adj} {noun} for {second}", year,
                                                                               authors[:2])
        out.append(Pair(a, b, False, kind))
    return out


def corpus(pairs: int = 4000, seed: int = 12) -> list[Pair]:
    """The labelled corpus: as many pairs of one paper as of two, deterministic for a seed."""
    rng = random.Random(seed)
    return positives(rng, pairs // 2) + negatives(rng, pairs // 2)


def score(pairs: list[Pair], threshold: float = THRESHOLD) -> tuple[float, float, list[Pair]]:
    """(precision, recall, the pairs judged wrongly)."""
    wrong, tp, fp, fn = [], 0, 0, 0
    for pair in pairs:
        said = same_paper(fingerprint(pair.a), fingerprint(pair.b), threshold)
        tp += said and pair.same
        fp += said and not pair.same
        fn += pair.same and not said
        if said != pair.same:
            wrong.append(pair)
    return tp / max(1, tp + fp), tp / max(1, tp + fn), wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="Precision and recall at thresholds 80-98.")
    args = parser.parse_args()
    pairs = corpus(args.pairs)
    for threshold in range(80, 99, 2) if args.sweep else (args.threshold,):
        precision, recall, wrong = score(pairs, threshold)
        print(f"threshold {threshold:5.1f}: precision {precision:.4f}  recall {recall:.4f}  "
              f"({len(pairs)} pairs, {sum(p.same for p in pairs)} duplicates, {len(wrong)} wrong)")
    if not args.sweep:
        for pair in wrong[:10]:
            print(f"  {pair.kind}: {pair.a.title!r} ({pair.a.year}) vs {pair.b.title!r} ({pair.b.year})")


if __name__ == "__main__":
    main()
