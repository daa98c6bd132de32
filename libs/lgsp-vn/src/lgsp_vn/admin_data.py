"""Loading the published catalogues behind `lgsp_vn.admin_units` (read once, on first use).

Two maintained packages supply the data; only their data files are read, their modules are
never imported (one of them loads geocoding and geometry libraries on import):
- `vietnam-provinces` (``data/nested-divisions.json``): today's 34 provinces and 3,321
  communes/wards with their official codes and names, as published by the statistics office;
- `vietnamadminunits` (``data/dataset.db`` and ``data/converter_2025.json``): the 63 provinces,
  696 districts and 10,035 communes as they stood on 30/6/2025, with their codes, and which new
  commune/ward each old commune went to (all of them when it was divided).

The conversion table names units by keys (``tinhbariavungtau_thanhphovungtau_phuong1``), not by
codes: old keys are turned into old codes through the legacy table of the same package, and new
keys into today's codes by matching the unit's name within its province in `vietnam-provinces`
(the statistics office's codes; the conversion package says its own new codes are provisional).
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

from lgsp_vn.names import name_match_key
from lgsp_vn.text import nfc

CURRENT_PACKAGE = "vietnam-provinces"
CONVERSION_PACKAGE = "vietnamadminunits"


@dataclass(frozen=True, slots=True)
class CurrentRow:
    """One unit of today's map as the catalogue lists it."""

    code: str
    name: str
    division_type: str
    province_code: str


@dataclass(frozen=True, slots=True)
class LegacyRow:
    """One unit of the map as it stood on 30/6/2025."""

    code: str
    name: str
    province_code: str
    district_code: str | None


@dataclass(slots=True)
class CatalogueData:
    """Both maps and the conversion, indexed by code."""

    provinces: dict[str, CurrentRow] = field(default_factory=dict)
    communes: dict[str, CurrentRow] = field(default_factory=dict)
    legacy_provinces: dict[str, LegacyRow] = field(default_factory=dict)
    legacy_districts: dict[str, LegacyRow] = field(default_factory=dict)
    legacy_communes: dict[str, LegacyRow] = field(default_factory=dict)
    # Old province code -> today's province code (no province was divided).
    province_successor: dict[str, str] = field(default_factory=dict)
    # Old province codes that make up each current province.
    province_parts: dict[str, set[str]] = field(default_factory=dict)
    # Old commune code (or, for a district without communes, the district code) -> new codes.
    successors: dict[str, set[str]] = field(default_factory=dict)
    # New commune code -> the old commune (or district) codes it was formed from, wholly or partly.
    predecessors: dict[str, set[str]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


def _data_file(package: str, relative: str) -> Path:
    path = Path(str(distribution(package).locate_file(relative)))
    if not path.is_file():
        raise RuntimeError(f"{package} is installed without its data file {relative}")
    return path


def _clean(name: str) -> str:
    return " ".join(nfc(name).split())  # the catalogues have stray double spaces


def _name_key(name: str) -> str:
    # Hyphens are spaced differently from one publication to the next ("Chân Mây - Lăng Cô").
    return name_match_key(name.replace("-", " - ")).replace(" - ", "-")


def _ascii_key(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum())


def _load_current(data: CatalogueData) -> None:
    path = _data_file(CURRENT_PACKAGE, "vietnam_provinces/data/nested-divisions.json")
    for province in json.loads(path.read_text(encoding="utf-8")):
        code = f"{province['code']:02d}"
        name = _clean(province["name"])
        data.provinces[code] = CurrentRow(code, name, province["division_type"], code)
        for ward in province["wards"]:
            ward_code = f"{ward['code']:05d}"
            row = CurrentRow(ward_code, _clean(ward["name"]), ward["division_type"], code)
            data.communes[ward_code] = row


def _load_legacy(data: CatalogueData, db: sqlite3.Connection) -> dict[str, str]:
    """Read the old units; return old conversion key -> old commune (or district) code."""
    keys: dict[str, str] = {}
    query = (
        "SELECT provinceCode, province, provinceKey, districtCode, district, districtKey,"
        " wardCode, ward, wardKey FROM admin_units_legacy"
    )
    for pc, pname, pkey, dc, dname, dkey, wc, wname, wkey in db.execute(query):
        data.legacy_provinces.setdefault(pc, LegacyRow(pc, _clean(pname), pc, None))
        data.legacy_districts.setdefault(dc, LegacyRow(dc, _clean(dname), pc, None))
        if wc is None:  # a district without communes (Côn Đảo, Bạch Long Vĩ, ...)
            keys[f"{pkey}_{dkey}_"] = dc
        else:
            data.legacy_communes[wc] = LegacyRow(wc, _clean(wname), pc, dc)
            keys[f"{pkey}_{dkey}_{wkey}"] = wc
    return keys


def _current_by_key(data: CatalogueData, db: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """Return (new province key, new ward key) of the conversion -> today's commune code."""
    short_names = {_ascii_key(row.name.removeprefix("Thành phố ")): row.code
                   for row in data.provinces.values()}  # fmt: skip
    exact: dict[tuple[str, str], list[str]] = defaultdict(list)
    loose: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in data.communes.values():
        exact[(row.province_code, _name_key(row.name))].append(row.code)
        loose[(row.province_code, _ascii_key(row.name))].append(row.code)
    found: dict[tuple[str, str], str] = {}
    query = "SELECT province, provinceShort, provinceKey, ward, wardKey FROM admin_units"
    for pname, short, pkey, wname, wkey in db.execute(query):
        province_code = short_names[_ascii_key(short)]
        match = exact.get((province_code, _name_key(wname)), [])
        if len(match) != 1:
            match = loose.get((province_code, _ascii_key(wname)), [])
        if len(match) != 1:
            raise RuntimeError(f"cannot place {wname!r} ({pname}) in {CURRENT_PACKAGE}")
        found[(pkey, wkey)] = match[0]
    return found


def _province_of(data: CatalogueData, old_code: str) -> str:
    row = data.legacy_communes.get(old_code) or data.legacy_districts[old_code]
    return row.province_code


def _link(data: CatalogueData, old: str, new_codes: Iterable[str]) -> None:
    for new in new_codes:
        data.successors.setdefault(old, set()).add(new)
        data.predecessors.setdefault(new, set()).add(old)


def _load_conversion(data: CatalogueData, old_keys: dict[str, str], db: sqlite3.Connection) -> None:
    new_codes = _current_by_key(data, db)
    path = _data_file(CONVERSION_PACKAGE, "vietnamadminunits/data/converter_2025.json")
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    new_province = {key[0]: data.communes[code].province_code for key, code in new_codes.items()}
    old_province = {key.split("_", 1)[0]: _province_of(data, old) for key, old in old_keys.items()}
    for new_pkey, old_pkeys in table["DICT_PROVINCE"].items():
        for old_pkey in old_pkeys:
            successor, old_code = new_province[new_pkey], old_province[old_pkey]
            data.province_successor[old_code] = successor
            data.province_parts.setdefault(successor, set()).add(old_code)
    for new_pkey, wards in table["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_wkey, old_list in wards.items():
            for old_key in old_list:
                _link(data, old_keys[old_key], [new_codes[(new_pkey, new_wkey)]])
    for new_pkey, divided in table["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in divided.items():
            # Every part is listed; the package's "default" part is a guess, and is ignored.
            targets = [new_codes[(new_pkey, part["newWardKey"])] for part in parts]
            _link(data, old_keys[old_key], targets)


def load() -> CatalogueData:
    """Read both packages' data into one catalogue (about half a second)."""
    data = CatalogueData()
    _load_current(data)
    db_path = _data_file(CONVERSION_PACKAGE, "vietnamadminunits/data/dataset.db")
    # Read-only, immutable: the file belongs to an installed package.
    with sqlite3.connect(f"{db_path.as_uri()}?mode=ro&immutable=1", uri=True) as db:
        old_keys = _load_legacy(data, db)
        _load_conversion(data, old_keys, db)
    db.close()
    for package in (CURRENT_PACKAGE, CONVERSION_PACKAGE):
        data.versions[package] = distribution(package).version
    return data
