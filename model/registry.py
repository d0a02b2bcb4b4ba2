"""The 513-city registry and a city-name matcher.

The registry (``data/cities.csv``) lists the 513 cities evaluated in the 2021 report
(CAUPD / China Academy of Urban Planning and Design, *Global Dynamic Cities Index and Index for
Belt and Road Potential Cities 2021*, "LIST OF CITIES"), repaired as documented in
``/work/shared/seed/DEFECTS.md`` and geocoded against GeoNames (CC BY 4.0). It is built by
``data/build_registry.py``.

:class:`CityMatcher` resolves the names other files use for these cities -- English or Chinese
names, aliases, spellings with or without diacritics, any case and punctuation, and the report's
"City (Country)" disambiguation, e.g. ``"San Jose (USA)"`` or ``"奥克兰（美国）"`` -- to the
registry's stable ``code``.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from unidecode import unidecode

from .bundled import registry_path
from .errors import CityIndexError

"""The bundled data folder (``data/`` beside the package)."""

REGISTRY_COLUMNS = ["code", "name_en", "name_zh", "aliases", "iso2", "country", "region",
                    "subregion", "lat", "lon", "geonameid", "note"]

#: Country labels the report and common sources use, beyond the registry's own country names.
#: Keys are matched after :func:`name_key` normalisation. Source: the country column of the
#: report's ranking tables (``seed/gdci_2021_top100.csv``, ``seed/brpci_2021_top100.csv``).
COUNTRY_ALIASES = {
    "USA": "US", "U.S.": "US", "U.S.A.": "US", "United States of America": "US", "America": "US",
    "U.K.": "GB", "UK": "GB", "Britain": "GB", "Great Britain": "GB", "England": "GB",
    "Korea": "KR", "South Korea": "KR", "Republic of Korea": "KR", "North Korea": "KP",
    "Czech": "CZ", "Czechia": "CZ", "Czech Republic": "CZ",
    "UAE": "AE", "The Netherlands": "NL", "Holland": "NL", "The Philippines": "PH",
    "Russia": "RU", "Russian Federation": "RU", "Vietnam": "VN", "Viet Nam": "VN", "Laos": "LA",
    "Iran": "IR", "Syria": "SY", "Turkey": "TR", "Turkiye": "TR", "Burma": "MM",
    "Hong Kong, China": "HK", "Hong Kong SAR": "HK", "Macau": "MO", "Macao, China": "MO",
    "Taiwan, China": "TW", "Ivory Coast": "CI", "Cote d'Ivoire": "CI", "Cape Verde": "CV",
    "Congo-Kinshasa": "CD", "DR Congo": "CD", "Congo-Brazzaville": "CG", "Swaziland": "SZ",
    "Eswatini": "SZ", "Tanzania": "TZ", "Bolivia": "BO", "Venezuela": "VE", "Moldova": "MD",
    "North Macedonia": "MK", "Macedonia": "MK", "Micronesia": "FM", "Palestine": "PS",
    "Curacao": "CW", "Reunion": "RE", "East Timor": "TL", "Timor-Leste": "TL",
    # Chinese labels used in the report (city list disambiguation and ranking tables)
    "美国": "US", "英国": "GB", "中国": "CN", "中国香港": "HK", "中国澳门": "MO", "中国台湾": "TW",
    "古巴": "CU", "智利": "CL", "哥斯达黎加": "CR", "新西兰": "NZ", "利比亚": "LY", "黎巴嫩": "LB",
    "日本": "JP", "韩国": "KR", "俄罗斯": "RU", "法国": "FR", "德国": "DE", "加拿大": "CA",
}

_PAREN = re.compile(r"^(?P<name>.*?)\s*[(（](?P<qual>[^()（）]*)[)）]\s*$")
_CJK = re.compile(r"[\u3400-\u9fff]")


class CityMatchError(CityIndexError):
    """A city name is unknown or ambiguous; the message lists the candidates."""


def name_key(text: str) -> str:
    """Normalise a place name for lookup.

    Chinese names keep their characters (NFKC, so full-width punctuation folds) and lose
    whitespace and punctuation. Latin-script names are transliterated with ``unidecode``
    (diacritics dropped: "São Tomé" -> "sao tome"), case-folded, and reduced to letters and
    digits, so "Xi'an", "XIAN" and "Xi an" share the key ``xian``.
    """
    text = unicodedata.normalize("NFKC", str(text)).strip()
    if _CJK.search(text):
        return re.sub(r"[\W_]+", "", text)
    return re.sub(r"[^a-z0-9]+", "", unidecode(text).casefold())


def load_registry(path: str | Path | None = None) -> pd.DataFrame:
    """Read the city registry (default: the bundled ``data/cities.csv``).

    Read with ``keep_default_na=False`` so that Namibia's ISO code ``NA`` stays a string
    (pandas otherwise parses it as missing).
    """
    path = Path(path) if path is not None else registry_path()
    reg = pd.read_csv(path, keep_default_na=False, na_values=[""],
                      dtype={"iso2": str, "geonameid": "Int64"})
    missing = [c for c in REGISTRY_COLUMNS if c not in reg.columns]
    if missing:
        raise CityIndexError(f"{path}: registry lacks columns {missing}")
    if reg["code"].duplicated().any():
        dup = reg.loc[reg["code"].duplicated(), "code"].tolist()
        raise CityIndexError(f"{path}: duplicate city codes {dup}")
    return reg


class CityMatcher:
    """Resolve city names to registry codes.

    Parameters
    ----------
    registry : DataFrame
        As returned by :func:`load_registry`.

    Every ``name_en``, ``name_zh`` and ``;``-separated alias is indexed under its
    :func:`name_key`. A name in the report's "City (Country)" form is resolved as the city
    restricted to that country; a ``country`` argument (ISO2, English name, or a label such as
    "U.K." or "Hong Kong, China") restricts the same way.
    """

    def __init__(self, registry: pd.DataFrame):
        self.registry = registry.set_index("code", drop=False)
        self._index: dict[str, set[str]] = defaultdict(set)
        for row in registry.itertuples(index=False):
            names = [row.name_en, row.name_zh]
            if isinstance(row.aliases, str):
                names += row.aliases.split(";")
            for name in names:
                if isinstance(name, str) and name.strip():
                    self._index[name_key(name)].add(row.code)
        self._countries: dict[str, str] = {}
        for iso2, country in registry[["iso2", "country"]].dropna().drop_duplicates().itertuples(
                index=False):
            self._countries[name_key(iso2)] = iso2
            self._countries[name_key(country)] = iso2
        for label, iso2 in COUNTRY_ALIASES.items():
            self._countries.setdefault(name_key(label), iso2)

    def country_code(self, country: str) -> str | None:
        """ISO2 for a country label, or None when the label is not recognised."""
        return self._countries.get(name_key(country))

    def candidates(self, name: str, country: str | None = None) -> list[str]:
        """All codes ``name`` may denote (sorted), after any country restriction."""
        codes = set(self._index.get(name_key(name), ()))
        iso2 = None
        m = _PAREN.match(str(name))
        if not codes and m:
            base = set(self._index.get(name_key(m["name"]), ()))
            qual_iso2 = self.country_code(m["qual"])
            if qual_iso2 is not None:
                codes, iso2 = base, qual_iso2
            else:  # e.g. "Nur-Sultan (Astana)": the bracket holds another name
                codes = base | set(self._index.get(name_key(m["qual"]), ()))
        if country is not None and str(country).strip():
            c_iso2 = self.country_code(country)
            if c_iso2 is None:
                raise CityMatchError(f"unknown country {country!r} for city {name!r}")
            iso2 = c_iso2
        if iso2 is not None:
            codes = {c for c in codes if self.registry.at[c, "iso2"] == iso2}
        return sorted(codes)

    def match(self, name: str, country: str | None = None) -> str:
        """The registry code of ``name``; raises :class:`CityMatchError` unless unique."""
        codes = self.candidates(name, country)
        if len(codes) == 1:
            return codes[0]
        where = f" in {country!r}" if country else ""
        if not codes:
            close = difflib.get_close_matches(name_key(name), list(self._index), n=5, cutoff=0.75)
            near = sorted({c for k in close for c in self._index[k]})
            raise CityMatchError(f"unknown city {name!r}{where}; candidates: "
                                 f"{self._describe(near) if near else 'none'}")
        raise CityMatchError(f"ambiguous city {name!r}{where}; candidates: {self._describe(codes)}"
                             "; give a country or use 'City (Country)'")

    def match_many(self, names: Sequence[str],
                   countries: Sequence[str | None] | None = None) -> list[str]:
        """:meth:`match` over a list; ``countries`` (same length) is optional."""
        if countries is None:
            countries = [None] * len(names)
        if len(countries) != len(names):
            raise ValueError("names and countries differ in length")
        return [self.match(n, c) for n, c in zip(names, countries)]

    def _describe(self, codes: list[str]) -> str:
        reg = self.registry
        return ", ".join(f"{c} ({reg.at[c, 'name_en']}, {reg.at[c, 'country']})" for c in codes)
