"""A names file for `names:PATH` made offline from Faker's per-locale last-name lists.

Seed 003 trains on the PyTorch char-RNN tutorial's names (18 languages), which cannot be
downloaded here. Faker (an optional dependency: `pip install trainlab[names]`) ships lists of
surnames per locale, written by its contributors from public sources; for Japanese and
Chinese it ships romanised forms. `write_names_file` keeps the Latin-script ones, drops any
name that appears under two languages (its label would be a coin toss), and writes a
`name,label` CSV that `--data names:FILE` reads.
"""
from __future__ import annotations

import csv
import gzip
import importlib
import io
import random
import unicodedata
from pathlib import Path

from ._types import DataError

# label -> Faker locale. Each list is read from the first of these attributes it has.
LANGUAGES = {
    "Chinese": "zh_CN", "Czech": "cs_CZ", "Dutch": "nl_NL", "English": "en_US",
    "Finnish": "fi_FI", "French": "fr_FR", "German": "de_DE", "Hungarian": "hu_HU",
    "Irish": "ga_IE", "Italian": "it_IT", "Japanese": "ja_JP", "Portuguese": "pt_PT",
    "Spanish": "es_ES", "Swedish": "sv_SE", "Turkish": "tr_TR",
}
NAME_LISTS = ("last_romanized_names", "last_names")


def is_latin(name: str) -> bool:
    return all(c in " '-" or "LATIN" in unicodedata.name(c, "") for c in name)


def surnames(locale: str) -> list[str]:
    """The locale's Latin-script surnames, sorted (Faker stores some as weighted mappings)."""
    try:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    except ImportError as error:
        raise DataError("making a names file needs Faker: pip install 'trainlab[names]' "
                        f"(or pip install faker) ({error})") from error
    for attribute in NAME_LISTS:
        values = getattr(provider, attribute, None)
        if values:
            return sorted({n.strip() for n in values if n.strip() and is_latin(n.strip())})
    return []


def make_names(per_label: int = 300, seed: int = 0,
               languages: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(name, label) rows: at most `per_label` surnames per language, drawn with `seed`."""
    lists = {label: surnames(locale) for label, locale in (languages or LANGUAGES).items()}
    seen: dict[str, int] = {}
    for names in lists.values():
        for name in names:
            seen[name] = seen.get(name, 0) + 1
    rng = random.Random(seed)
    rows = []
    for label, names in sorted(lists.items()):
        unique = [n for n in names if seen[n] == 1]
        rng.shuffle(unique)
        rows += [(name, label) for name in sorted(unique[:per_label])]
    return rows


def write_names_file(path: str | Path, per_label: int = 300, seed: int = 0) -> list[tuple[str, str]]:
    """Write `make_names` as a `name,label` CSV (gzip when the name ends in .gz); return rows."""
    from ..engine import writing

    rows = make_names(per_label, seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "label"])
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    path = Path(path)
    with writing(path):
        path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return rows
