"""Deterministic region gazetteer: which district/county of Pingdingshan a message is about.

The model's RegexEntityExtractor finds the same names (the lookup table in data/nlu/regions.yml), but
the gateway must not depend on the model for something a dictionary can do exactly: this module reads
the directory's region names and aliases plus the towns, roads and landmarks of data/nlu/regions.yml
and matches them on normalised text (traditional characters, full-width digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from config.directory import Directory, load_directory
from nlu.textnorm import normalize

REGIONS_DATA = Path(__file__).parent / "data" / "nlu" / "regions.yml"

# Compounds that contain a region alias but name something else (a chain store, a news agency,
# an estate called 新城 in any district). Matched first and skipped.
_FALSE_FRIENDS = (
    "新华书店", "新华社", "新华网", "新华字典", "新华保险", "新城市", "新城花园", "新城小区", "新城国际",
    "新城吾悦", "新城控股", "宝丰酒", "平顶山高新技术",
)


@dataclass(frozen=True)
class RegionMatch:
    code: str
    name: str  # the words as found in the (normalised) text
    start: int
    end: int


def read_region_data(path: Path = REGIONS_DATA) -> dict[str, list[str]]:
    """Synonyms of the Rasa data file: region code -> names. Also used by the consistency tests."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, list[str]] = {}
    for item in data.get("nlu", []):
        if "synonym" in item:
            out.setdefault(item["synonym"], []).extend(_examples(item["examples"]))
    return out


def read_region_lookup(path: Path = REGIONS_DATA) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[str] = []
    for item in data.get("nlu", []):
        if item.get("lookup") == "region":
            out.extend(_examples(item["examples"]))
    return out


def _examples(block: str) -> list[str]:
    return [line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


class Gazetteer:
    """Longest-match scanner over every known name of every region."""

    def __init__(self, directory: Directory | None = None, data_path: Path = REGIONS_DATA) -> None:
        directory = directory or load_directory()
        names: dict[str, str] = {}
        for region in directory.regions:
            for alias in (region.name, *region.aliases):
                names[normalize(alias)] = region.code
        for code, aliases in read_region_data(data_path).items():
            if code not in directory.region_codes:
                raise ValueError(f"{data_path}: synonym {code!r} is not a region code of the directory")
            for alias in aliases:
                names.setdefault(normalize(alias), code)
        self.names = names
        # One alternation, longest names first, false friends before everything so that they
        # consume their span and the alias inside them is never reported.
        friends = sorted({normalize(f) for f in _FALSE_FRIENDS}, key=len, reverse=True)
        alts = sorted(names, key=len, reverse=True)
        alternation = "|".join([f"(?P<ff{i}>{re.escape(f)})" for i, f in enumerate(friends)] + [re.escape(a) for a in alts])
        # Python's re tries every alternative at every position; a look-ahead on the names' first
        # characters skips the positions where none can start (8x faster on citizens' messages).
        firsts = "".join(sorted({name[0] for name in [*friends, *alts] if name}))
        self._pattern = re.compile(f"(?=[{re.escape(firsts)}])(?:{alternation})")

    def find_all(self, text: str) -> list[RegionMatch]:
        norm = normalize(text)
        out = []
        for m in self._pattern.finditer(norm):
            if m.lastgroup and m.lastgroup.startswith("ff"):
                continue
            out.append(RegionMatch(self.names[m.group(0)], m.group(0), m.start(), m.end()))
        return out

    def find(self, text: str) -> str | None:
        """The region code of the message, or None.

        Several regions in one message ("我是郏县人，在新华区打工") are decided by the most mentioned one,
        then by the first mention: a complaint usually names its place first.
        """
        matches = self.find_all(text)
        if not matches:
            return None
        counts: dict[str, int] = {}
        for m in matches:
            counts[m.code] = counts.get(m.code, 0) + 1
        first = {}
        for m in matches:
            first.setdefault(m.code, m.start)
        return max(counts, key=lambda c: (counts[c], -first[c]))

    def canonical(self, value: str) -> str | None:
        """Map an entity value from the model (a code after the synonym mapper, or a raw name) to a code."""
        norm = normalize(value)
        if norm in self.names.values():
            return norm
        return self.names.get(norm)


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    return Gazetteer()
