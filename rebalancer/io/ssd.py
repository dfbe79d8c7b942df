"""Import a Standard Safeguarding Dataset (SSD) extract into the contract's workers and children.

Follows `shared/docs/ssd.md`: only the columns listed there are read (column selection, never
whole tables, so names and other personal fields never enter memory), the mapping file supplies
what the SSD lacks (grades, localities, proceedings, allocated-worker roles), and every problem
is reported at once with table, row and ID. Nothing is written when the extract is refused.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import re2

from rebalancer.config import GRADES
from rebalancer.problems import InputRejected, Problem, UsageError, shown
from rebalancer.tomlfile import read_toml

# table -> (required?, columns read)
TABLES: dict[str, tuple[bool, tuple[str, ...]]] = {
    "ssd_professionals": (True, ("prof_professional_id", "prof_professional_job_title",
                                 "prof_professional_department", "prof_full_time_equivalency",
                                 "prof_agency_worker_flag")),
    "ssd_department": (False, ("dept_team_id", "dept_team_name", "dept_team_parent_id",
                               "dept_team_parent_name")),
    "ssd_involvements": (True, ("invo_involvements_id", "invo_professional_id",
                                "invo_professional_role_id", "invo_professional_team",
                                "invo_person_id", "invo_involvement_start_date",
                                "invo_involvement_end_date")),
    "ssd_person": (True, ("pers_person_id",)),
    "ssd_family": (False, ("fami_family_id", "fami_person_id")),
    "ssd_address": (False, ("addr_person_id", "addr_address_type", "addr_address_start_date",
                            "addr_address_end_date", "addr_address_postcode")),
    "ssd_cin_assessments": (True, ("cina_person_id", "cina_assessment_start_date",
                                   "cina_assessment_auth_date")),
    "ssd_cin_plans": (True, ("cinp_person_id", "cinp_cin_plan_start_date",
                             "cinp_cin_plan_end_date")),
    "ssd_cp_plans": (True, ("cppl_person_id", "cppl_cp_plan_start_date",
                            "cppl_cp_plan_end_date")),
    "ssd_cla_episodes": (True, ("clae_person_id", "clae_cla_episode_start_date",
                                "clae_cla_episode_ceased_date")),
    "ssd_legal_status": (False, ("lega_person_id", "lega_legal_status",
                                 "lega_legal_status_start_date", "lega_legal_status_end_date")),
}
# which column names a row in messages
ROW_KEY = {"ssd_professionals": "prof_professional_id", "ssd_department": "dept_team_id",
           "ssd_involvements": "invo_involvements_id", "ssd_person": "pers_person_id",
           "ssd_family": "fami_person_id", "ssd_address": "addr_person_id",
           "ssd_cin_assessments": "cina_person_id", "ssd_cin_plans": "cinp_person_id",
           "ssd_cp_plans": "cppl_person_id", "ssd_cla_episodes": "clae_person_id",
           "ssd_legal_status": "lega_person_id"}
MAPPING_KEYS = {"roles": {"allocated_worker"}, "grades": set(GRADES), "localities": None,
                "postcodes": None, "proceedings": {"legal_status"},
                "defaults": {"fte", "agency", "open_end_dates"}}
NO_WORKER = {"", "-1", "0", "none", "null"}


@dataclass
class Mapping:
    roles: set[str]
    grades: list[tuple[str, Any]]  # RE2 patterns, in order: first match wins
    localities: list[tuple[str, str]]  # (team pattern, locality)
    postcodes: dict[str, str]  # district -> locality
    legal_status: set[str]
    fte: float
    agency: bool
    open_end_dates: set[str]


def load_mapping(path: Path) -> Mapping:
    """The mapping file, with every unknown key and bad pattern reported at once."""
    file = str(path)
    raw = read_toml(path, "--mapping", "an SSD mapping file")
    problems: list[Problem] = []

    def bad(key: str, msg: str, fix: str) -> None:
        problems.append(Problem(file, "-", key, msg, fix))

    for key, value in raw.items():
        if key not in MAPPING_KEYS:
            bad(key, f"unknown mapping section {shown(key)}",
                f"use only {', '.join(MAPPING_KEYS)}")
        elif not isinstance(value, dict):
            bad(key, f"'{key}' must be a table", f"write it as [{key}]")
        elif MAPPING_KEYS[key] is not None:
            for sub in value:
                if sub not in MAPPING_KEYS[key]:  # type: ignore[operator]
                    bad(f"{key}.{sub}", f"unknown key {shown(sub)}",
                        f"use only {', '.join(sorted(MAPPING_KEYS[key] or []))}")

    def strings(key: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            bad(key, "must be a list of text values", f'write {key} = ["...", "..."]')
            return []
        return list(value)

    roles = set(strings("roles.allocated_worker",
                        raw.get("roles", {}).get("allocated_worker", [])))
    if not roles:
        bad("roles.allocated_worker", "no allocated-worker role codes",
            'list the invo_professional_role_id values, e.g. ["CW", "SW"]')
    grades: list[tuple[str, Any]] = []
    for grade, patterns in raw.get("grades", {}).items():
        for pat in strings(f"grades.{grade}", patterns):
            try:
                grades.append((grade, _linear_time(pat)))
            except re2.error as exc:
                bad(f"grades.{grade}", f"{shown(pat)} is not a valid pattern ({exc})",
                    "fix the regular expression (RE2 syntax: no backreferences or "
                    "lookarounds)")
    localities = []
    for pattern, loc in raw.get("localities", {}).items():
        if not isinstance(loc, str) or not loc.strip():
            bad(f"localities.{pattern}", "the locality must be text",
                f'write "{pattern}" = "Locality"')
        else:
            localities.append((pattern, loc.strip()))
    postcodes = {}
    for district, loc in raw.get("postcodes", {}).items():
        if not isinstance(loc, str):
            bad(f"postcodes.{district}", "the locality must be text", "write NN1 = \"Locality\"")
        else:
            postcodes[_district(district)] = loc.strip()
    legal = {s.lower() for s in strings("proceedings.legal_status",
                                        raw.get("proceedings", {}).get("legal_status", []))}
    d = raw.get("defaults", {})
    fte = d.get("fte", 1.0)
    if not isinstance(fte, int | float) or isinstance(fte, bool) or not 0 < fte <= 1:
        bad("defaults.fte", f"{shown(fte)} is not a number in (0, 1]", "set defaults.fte = 1.0")
        fte = 1.0
    agency = d.get("agency", False)
    if not isinstance(agency, bool):
        bad("defaults.agency", f"{shown(agency)} is not true or false",
            "set defaults.agency = false")
        agency = False
    sentinels = strings("defaults.open_end_dates", d.get("open_end_dates", []))
    if problems:
        raise InputRejected(problems)
    return Mapping(roles={r.lower() for r in roles}, grades=grades, localities=localities,
                   postcodes=postcodes, legal_status=legal, fte=float(fte), agency=agency,
                   open_end_dates={s[:10] for s in sentinels})


POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")  # spaces removed
DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def _district(postcode: str) -> str:
    """The outward code of a UK postcode (upper case, spaces removed, the inward code dropped);
    "" for anything that is not shaped like one, which is never echoed (it may be a name or an
    address typed into the wrong field)."""
    p = re.sub(r"\s+", "", str(postcode)).upper()
    if POSTCODE.match(p):
        return p[:-3]
    return p if DISTRICT.match(p) else ""


@dataclass
class Extract:
    tables: dict[str, pd.DataFrame]
    rows_read: dict[str, int]
    problems: list[Problem] = field(default_factory=list)


def _read(folder: Path, table: str, columns: tuple[str, ...], required: bool
          ) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Only the listed columns, as text; a missing table or column is a problem."""
    csv, parquet = folder / f"{table}.csv", folder / f"{table}.parquet"
    if csv.is_file():
        try:
            header = [c.strip() for c in pd.read_csv(csv, nrows=0, encoding="utf-8-sig").columns]
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            return None, [Problem(str(csv), "-", "-", f"cannot be read ({type(exc).__name__})",
                                  "export the table as CSV UTF-8 with its header")]
        missing = [c for c in columns if c not in header]
        if missing:
            return None, [Problem(str(csv), "-", c, "required column is missing",
                                  f"export {table} with the column {c}") for c in missing]
        df = pd.read_csv(csv, usecols=lambda c: c.strip() in columns, dtype=str,
                         keep_default_na=False, encoding="utf-8-sig")
        df.columns = [c.strip() for c in df.columns]
        return df, []
    if parquet.is_file():
        import pyarrow.parquet as pq

        names = pq.read_schema(parquet).names
        missing = [c for c in columns if c not in names]
        if missing:
            return None, [Problem(str(parquet), "-", c, "required column is missing",
                                  f"export {table} with the column {c}") for c in missing]
        t = pq.read_table(parquet, columns=list(columns))
        df = pd.DataFrame({c: [("" if v is None else str(v)) for v in t.column(c).to_pylist()]
                           for c in columns})
        return df, []
    if required:
        return None, [Problem(str(folder / f"{table}.csv"), "-", "-",
                              f"the required table {table} is missing",
                              f"export {table} as {table}.csv or {table}.parquet")]
    return None, []


def read_extract(folder: Path) -> Extract:
    tables, rows, problems = {}, {}, []
    if not folder.is_dir():
        raise InputRejected([Problem(str(folder), "-", "-", "not a folder",
                                     "give the folder holding the SSD tables")])
    for table, (required, columns) in TABLES.items():
        df, p = _read(folder, table, columns, required)
        problems += p
        if df is not None:
            df = df.apply(lambda s: s.str.strip())
            df["_row"] = [f"row {i + 2} ({ROW_KEY[table]} {shown(v)[1:-1]})"
                          for i, v in enumerate(df[ROW_KEY[table]])]
            tables[table] = df
            rows[table] = len(df)
    return Extract(tables, rows, problems)


def _dates(df: pd.DataFrame, col: str, table: str, folder: Path, sentinels: set[str],
           problems: list[Problem]) -> pd.Series:
    """Dates with or without a time part, ISO or UK; sentinel end dates mean 'still open'."""
    s = df[col].astype(str).str.strip()
    day = s.str.slice(0, 10)
    present = (s != "") & ~day.isin(sentinels)
    iso = pd.to_datetime(day.where(present), format="%Y-%m-%d", errors="coerce")
    uk = pd.to_datetime(day.where(present & iso.isna()), format="%d/%m/%Y", errors="coerce")
    d = iso.fillna(uk)
    for row, value in zip(df.loc[present & d.isna(), "_row"], s[present & d.isna()],
                          strict=True):
        problems.append(Problem(str(folder / f"{table}.csv"), row, col, f"{shown(value)} is not "
                                "a date", "write dates as YYYY-MM-DD (a time part may follow)"))
    return pd.Series([None if pd.isna(x) else x.date() for x in d], index=df.index, dtype=object)


def _open(start: pd.Series, end: pd.Series, on: dt.date) -> np.ndarray:
    """Open on the plan date: started on or before it, and not ended by it."""
    started = start.map(lambda d: d is not None and d <= on)
    not_ended = end.map(lambda d: d is None or d > on)
    return (started & not_ended).to_numpy(bool)


def _locality_of_team(team: str, parent: str, mapping: Mapping) -> str:
    for pattern, loc in mapping.localities:
        for name in (team, parent):
            if name and fnmatch.fnmatchcase(name.lower(), pattern.lower()):
                return loc
    return ""


def _linear_time(pattern: str) -> Any:
    """A case-insensitive pattern that runs in time linear in the text (RE2), so a pattern
    such as (a+)+$ cannot hang the import on a long job title."""
    options = re2.Options()
    options.case_sensitive = False
    return re2.compile(pattern, options)


def _grade(title: str, mapping: Mapping) -> str:
    for grade, pattern in mapping.grades:
        if pattern.search(title):
            return grade
    return ""


@dataclass
class Imported:
    workers: pd.DataFrame
    children: pd.DataFrame
    report: dict[str, Any]


CHANGE_WINDOW_DAYS = 365


def id_order(ids: pd.Series) -> pd.Series:
    """How IDs sort: numbers as numbers (99 before 100) when every ID of the column is one, as
    case systems number involvements; text otherwise; other columns as they are."""
    if ids.name not in ("i", "invo_involvements_id"):
        return ids
    text = ids.astype(str).str.strip()
    if len(text) and text.str.fullmatch(r"\d{1,18}").all():
        return text.astype("int64")
    return text


def worker_changes_12m(person: pd.Series, professional: pd.Series, start: pd.Series,
                       involvement: pd.Series, plan_date: dt.date) -> dict[str, int]:
    """Per child, the allocated-worker involvements that started in the 365 days up to the plan
    date and followed one of a different professional (ssd.md): a first allocation is not a
    change, nor a new involvement with the same professional, and a handover with two open
    involvements is one change, since only the order of starts is read."""
    df = pd.DataFrame({"p": person.to_numpy(object), "w": professional.to_numpy(object),
                       "s": start.map(lambda d: d or dt.date.min).to_numpy(object),
                       "i": involvement.to_numpy(object)})
    df = df[df["s"] <= plan_date].sort_values(["p", "s", "i"], key=id_order, kind="stable")
    earlier = df.groupby("p")["w"].shift()
    # the 365 days up to and including the plan date: the day a year before is outside
    window = plan_date - dt.timedelta(days=CHANGE_WINDOW_DAYS)
    change = earlier.notna() & (earlier != df["w"]) & (df["s"] > window)
    return {str(k): int(v) for k, v in change.groupby(df["p"]).sum().items()}


def changes_histogram(counts: pd.Series) -> dict[str, int]:
    """How many children had 1, 2 and 3 or more changes of worker (the import report's line)."""
    n = counts.astype(int)
    return {"1": int((n == 1).sum()), "2": int((n == 2).sum()), "3+": int((n >= 3).sum())}


def import_ssd(folder: Path, mapping: Mapping, plan_date: dt.date) -> Imported:
    """The contract's tables and the import report; InputRejected lists every refusal."""
    ex = read_extract(folder)
    if ex.problems:
        raise InputRejected(list(ex.problems))
    run = _Import(folder, ex.tables, mapping, plan_date, ex.rows_read)
    run.case_facts()
    run.refuse_if_any()  # dates that do not parse: refused, nothing written
    run.allocations()
    w = run.workers()
    run.refuse_if_any()
    c = run.children(w)
    return Imported(w, c, run.report)


class _Import:
    """One import: the extract's tables, the mapping, and what each step found."""

    def __init__(self, folder: Path, tables: dict[str, pd.DataFrame], mapping: Mapping,
                 plan_date: dt.date, rows_read: dict[str, int]) -> None:
        self.folder, self.t, self.mapping, self.plan_date = folder, tables, mapping, plan_date
        self.problems: list[Problem] = []
        self.report: dict[str, Any] = {"plan_date": plan_date.isoformat(),
                                       "rows_read": rows_read,
                                       "tables_absent": [k for k in TABLES if k not in tables]}
        self.open_sets: dict[str, set[str]] = {}
        self.legal_open: set[str] = set()
        self.address: dict[str, str] = {}
        self.team_name: dict[str, str] = {}
        self.parent_name: dict[str, str] = {}
        self.changes: dict[str, int] = {}
        self.alloc = pd.DataFrame()
        self.current = pd.DataFrame()
        self.inv_start = pd.Series(dtype=object)
        self.inv_end = pd.Series(dtype=object)

    def dates(self, table: str, col: str) -> pd.Series:
        return _dates(self.t[table], col, table, self.folder, self.mapping.open_end_dates,
                      self.problems)

    def refuse_if_any(self) -> None:
        if self.problems:
            raise InputRejected(self.problems)

    def case_facts(self) -> None:
        # open episodes by kind, open legal statuses that mean proceedings, current addresses
        t, day = self.t, self.plan_date
        self.inv_start = self.dates("ssd_involvements", "invo_involvement_start_date")
        self.inv_end = self.dates("ssd_involvements", "invo_involvement_end_date")
        episodes = {
            "cla": ("ssd_cla_episodes", "clae_person_id", "clae_cla_episode_start_date",
                    "clae_cla_episode_ceased_date"),
            "cp": ("ssd_cp_plans", "cppl_person_id", "cppl_cp_plan_start_date",
                   "cppl_cp_plan_end_date"),
            "cin": ("ssd_cin_plans", "cinp_person_id", "cinp_cin_plan_start_date",
                    "cinp_cin_plan_end_date"),
            "assessment": ("ssd_cin_assessments", "cina_person_id",
                           "cina_assessment_start_date", "cina_assessment_auth_date"),
        }
        for kind, (table, pid, start, end) in episodes.items():
            is_open = _open(self.dates(table, start), self.dates(table, end), day)
            self.open_sets[kind] = set(t[table].loc[is_open, pid])
        if "ssd_legal_status" in t:
            lg = t["ssd_legal_status"]
            is_open = _open(self.dates("ssd_legal_status", "lega_legal_status_start_date"),
                            self.dates("ssd_legal_status", "lega_legal_status_end_date"), day)
            hit = lg["lega_legal_status"].str.lower().isin(self.mapping.legal_status)
            self.legal_open = set(lg.loc[is_open & hit.to_numpy(), "lega_person_id"])
        if "ssd_address" in t:
            ad = t["ssd_address"]
            a_start = self.dates("ssd_address", "addr_address_start_date")
            is_open = _open(a_start.map(lambda d: d or dt.date.min),
                            self.dates("ssd_address", "addr_address_end_date"), day)
            cur = ad.loc[is_open].assign(_s=a_start[is_open].map(lambda d: d or dt.date.min))
            unknown_shape = []
            for pid, post, row in cur.sort_values("_s")[
                    ["addr_person_id", "addr_address_postcode", "_row"]].itertuples(index=False):
                if post and _district(post):
                    self.address[pid] = _district(post)  # the latest open address wins
                elif post:
                    unknown_shape.append({"table": "ssd_address", "row": row})
            self.report["postcodes_not_recognised"] = unknown_shape
        dept = t.get("ssd_department")
        if dept is not None:
            self.team_name = dict(zip(dept["dept_team_id"], dept["dept_team_name"], strict=True))
            self.parent_name = dict(zip(dept["dept_team_name"], dept["dept_team_parent_name"],
                                        strict=True))

    def allocations(self) -> None:
        # allocated-worker involvements: their history (changes of worker) and those open now
        inv, inv_start, inv_end = self.t["ssd_involvements"], self.inv_start, self.inv_end
        prof = self.t["ssd_professionals"].drop_duplicates("prof_professional_id")
        known_prof = set(prof["prof_professional_id"])
        role_ok = inv["invo_professional_role_id"].str.lower().isin(self.mapping.roles).to_numpy()
        has_worker = ~inv["invo_professional_id"].str.lower().isin(NO_WORKER).to_numpy()
        is_open = _open(inv_start, inv_end, self.plan_date)
        history = role_ok & has_worker
        # an open involvement with no start date still names the child's worker: kept, reported
        no_start = history & inv_start.isna().to_numpy() & inv_end.map(
            lambda d: d is None or d > self.plan_date).to_numpy(bool)
        self.report["involvements_without_start_date"] = [
            {"table": "ssd_involvements", "row": r} for r in inv.loc[no_start, "_row"]]
        is_open = is_open | no_start
        self.changes = worker_changes_12m(inv.loc[history, "invo_person_id"],
                                          inv.loc[history, "invo_professional_id"],
                                          inv_start[history],
                                          inv.loc[history, "invo_involvements_id"],
                                          self.plan_date)
        alloc = inv.loc[history & is_open].assign(_start=inv_start[history & is_open])
        unknown = alloc[~alloc["invo_professional_id"].isin(known_prof)]
        self.report["involvements_naming_unknown_professionals"] = [
            {"table": "ssd_involvements", "row": r, "professional_id": p}
            for r, p in zip(unknown["_row"], unknown["invo_professional_id"], strict=True)]
        alloc = alloc[alloc["invo_professional_id"].isin(known_prof)]
        alloc = alloc.sort_values(["invo_person_id", "_start", "invo_involvements_id"],
                                  key=lambda s: s.map(lambda d: d or dt.date.min)
                                  if s.name == "_start" else id_order(s), kind="stable")
        two = alloc[alloc.duplicated("invo_person_id", keep=False)]
        self.report["children_with_two_open_workers"] = [
            {"child_id": pid, "workers": list(g["invo_professional_id"]),
             "kept": g["invo_professional_id"].iloc[-1], "rows": list(g["_row"])}
            for pid, g in two.groupby("invo_person_id", sort=True)]
        self.alloc = alloc
        self.current = alloc.drop_duplicates("invo_person_id", keep="last") \
            .set_index("invo_person_id")

    def _professionals(self) -> pd.DataFrame:
        # one row per professional: identical repeated rows are reported and merged; repeated
        # IDs with different values are refused (which row is right is the case system's call)
        prof = self.t["ssd_professionals"]
        cols = list(TABLES["ssd_professionals"][1])
        dup = prof[prof.duplicated("prof_professional_id", keep=False)]
        repeated = []
        for pid, g in dup.groupby("prof_professional_id", sort=True):
            repeated.append({"professional_id": pid, "rows": list(g["_row"])})
            if len(g[cols].drop_duplicates()) > 1:
                self.problems.append(Problem(
                    str(self.folder / "ssd_professionals.csv"), f"professional {shown(pid)[1:-1]}",
                    "prof_professional_id", f"appears on {len(g)} rows with different values",
                    "keep one row per professional in the extract"))
        self.report["professionals_repeated"] = repeated
        return prof.drop_duplicates("prof_professional_id")

    def workers(self) -> pd.DataFrame:
        # every professional whose title and team the mapping places, with FTE and agency
        alloc, team_name, mapping = self.alloc, self.team_name, self.mapping
        prof = self._professionals()
        team_of_worker = alloc.assign(team=alloc["invo_professional_team"].map(
            lambda x: team_name.get(x, x))).groupby("invo_professional_id")["team"].agg(
            lambda s: Counter(s).most_common(1)[0][0])
        workers = []
        unmatched: list[dict[str, str]] = []
        no_locality: list[dict[str, str]] = []
        no_fte: list[str] = []
        for r in prof.itertuples(index=False):
            wid = r.prof_professional_id
            grade = _grade(r.prof_professional_job_title, mapping)
            dept_field = team_name.get(r.prof_professional_department,
                                       r.prof_professional_department)
            team = team_of_worker.get(wid, dept_field) or dept_field
            if not grade:
                unmatched.append({"worker_id": wid,
                                  "job_title": r.prof_professional_job_title[:40]})
                continue
            loc = _locality_of_team(team, self.parent_name.get(team, ""), mapping)
            if not loc:
                no_locality.append({"worker_id": wid, "team": team[:40],
                                    "fix": f'add "{team[:40]}" (or a pattern) under [localities]'})
                continue
            fte = self._fte(wid, r.prof_full_time_equivalency, no_fte)
            if fte is None:
                continue
            flag = r.prof_agency_worker_flag.upper()
            agency = True if flag in ("Y", "YES", "TRUE", "1") else False if flag in (
                "N", "NO", "FALSE", "0") else mapping.agency
            workers.append({"worker_id": wid, "team": team, "locality": loc, "grade": grade,
                            "fte": fte, "agency": "true" if agency else "false"})
        self.report["job_titles_unmatched"] = unmatched
        self.report["workers_without_locality"] = no_locality
        self.report["workers_with_no_fte"] = no_fte
        return pd.DataFrame(workers, columns=["worker_id", "team", "locality", "grade", "fte",
                                              "agency"])

    def _fte(self, wid: str, text: str, no_fte: list[str]) -> float | None:
        # the FTE as given, the mapping's default when empty; a bad one is a refusal
        try:
            fte = float(text) if text else self.mapping.fte
        except ValueError:
            fte = -1.0
        if not text:
            no_fte.append(wid)
        if not 0 < fte <= 1:
            self.problems.append(Problem(str(self.folder / "ssd_professionals.csv"),
                                         f"professional {shown(wid)[1:-1]}",
                                         "prof_full_time_equivalency",
                                         f"{shown(text)} is not an FTE in (0, 1]",
                                         "correct the FTE (1.0 is full time) or leave it empty "
                                         "for the mapping's defaults.fte"))
            return None
        return fte

    def children(self, w: pd.DataFrame) -> pd.DataFrame:
        # people with an open case on the plan date, with their worker, locality and history
        t, mapping, current = self.t, self.mapping, self.current
        worker_loc = dict(zip(w["worker_id"], w["locality"], strict=True))
        persons = t["ssd_person"]["pers_person_id"].drop_duplicates()
        # a person with an open case but no ssd_person row is still a child with a case
        known = set(persons)
        open_case = set().union(*self.open_sets.values())
        missing = sorted(open_case - known)
        self.report["children_without_person_row"] = missing
        persons = pd.concat([persons, pd.Series(missing, dtype=object)], ignore_index=True)
        family: dict[str, str] = {}
        two_families: dict[str, list[str]] = {}
        if "ssd_family" in t:
            fam = t["ssd_family"]
            for pid, fid in zip(fam["fami_person_id"], fam["fami_family_id"], strict=False):
                if pid in family and family[pid] != fid:  # the first family is kept, reported
                    two_families.setdefault(pid, [family[pid]]).append(fid)
                family.setdefault(pid, fid)
        self.report["children_in_two_families"] = [
            {"child_id": pid, "families": fams, "kept": fams[0]}
            for pid, fams in sorted(two_families.items())]
        kids: list[dict[str, str]] = []
        no_open_case = 0
        no_locality_kids: list[dict[str, str]] = []
        dropped_worker = []
        for pid in persons:
            kind = next((k for k in ("cla", "cp", "cin", "assessment")
                         if pid in self.open_sets[k]), "")
            if not kind:
                no_open_case += 1
                continue
            wid, since = "", ""
            if pid in current.index:
                wid = str(current.at[pid, "invo_professional_id"])
                start = current.at[pid, "_start"]
                since = start.isoformat() if start else ""
                if wid not in worker_loc:  # left out above (title or team unmapped)
                    dropped_worker.append({"child_id": pid, "worker_id": wid})
                    wid, since = "", ""
            loc = worker_loc.get(wid, "") or mapping.postcodes.get(self.address.get(pid, ""), "")
            if not loc:
                district = self.address.get(pid, "")
                no_locality_kids.append(
                    {"child_id": pid, "postcode_district": district,
                     "fix": f"add {district} = \"Locality\" under [postcodes]" if district
                     else "no open address: allocate the child, or add its address"})
                continue
            kids.append({"child_id": pid, "family_id": family.get(pid, ""), "case_type": kind,
                         "in_proceedings": "true" if pid in self.legal_open else "false",
                         "locality": loc, "current_worker_id": wid, "allocated_on": since,
                         "worker_changes_12m": str(self.changes.get(pid, 0))})
        c = pd.DataFrame(kids, columns=["child_id", "family_id", "case_type", "in_proceedings",
                                        "locality", "current_worker_id", "allocated_on",
                                        "worker_changes_12m"])
        # a family of one is no family
        sizes = c["family_id"].map(c["family_id"].value_counts())
        c.loc[(c["family_id"] != "") & (sizes < 2), "family_id"] = ""
        self.report["children_with_open_case"] = len(c)
        self.report["children_left_out"] = {"no_open_case": no_open_case,
                                            "no_locality": no_locality_kids}
        self.report["children_whose_worker_was_left_out"] = dropped_worker
        self.report["workers"] = len(w)
        self.report["children_by_worker_changes_12m"] = changes_histogram(
            c["worker_changes_12m"])
        return c


def report_text(report: dict[str, Any]) -> str:
    """The import report for a person: counts first, then every item (IDs only)."""
    lines = ["rows read: " + ", ".join(f"{k} {v:,}" for k, v in report["rows_read"].items())]
    if report["tables_absent"]:
        lines.append("optional tables absent (the mapping's defaults used): "
                     + ", ".join(report["tables_absent"]))
    left = report["children_left_out"]
    lines.append(f"{report['workers']} workers; {report['children_with_open_case']} children "
                 f"with an open case; left out: {left['no_open_case']} with no open case, "
                 f"{len(left['no_locality'])} with no locality")
    ch = report["children_by_worker_changes_12m"]
    lines.append(f"changes of social worker in the 12 months to the plan: {ch['1']} children "
                 f"with 1, {ch['2']} with 2, {ch['3+']} with 3 or more")
    sections = [
        ("children with an open case but no ssd_person row (imported)",
         "children_without_person_row", lambda x: str(x)),
        ("open involvements with no start date (worker kept, allocated_on empty)",
         "involvements_without_start_date", lambda x: f"{x['table']} {x['row']}"),
        ("professionals on more than one identical row (merged)", "professionals_repeated",
         lambda x: f"{x['professional_id']}: {', '.join(x['rows'][:5])}"),
        ("children in two families (the first kept)", "children_in_two_families",
         lambda x: f"{x['child_id']}: {', '.join(x['families'])} -> {x['kept']}"),
        ("postcode cells that are not a postcode (not shown; fix them in the case system)",
         "postcodes_not_recognised", lambda x: f"{x['table']} {x['row']}"),
        ("job titles no pattern matched (worker left out)", "job_titles_unmatched",
         lambda x: f"{x['worker_id']}: {x['job_title']!r} (add a pattern under [grades])"),
        ("workers whose team has no locality (left out)", "workers_without_locality",
         lambda x: f"{x['worker_id']}: {x['fix']}"),
        ("children with two open allocated workers (the later start kept)",
         "children_with_two_open_workers",
         lambda x: f"{x['child_id']}: {', '.join(x['workers'])} -> {x['kept']}"),
        ("involvements naming unknown professionals", "involvements_naming_unknown_professionals",
         lambda x: f"ssd_involvements {x['row']}: professional {x['professional_id']}"),
        ("children whose worker was left out (now unallocated)",
         "children_whose_worker_was_left_out",
         lambda x: f"{x['child_id']}: worker {x['worker_id']}"),
    ]
    for title, key, fmt in sections:
        items = report.get(key, [])
        if items:
            lines.append(f"{title}: {len(items)}")
            lines += [f"  - {fmt(x)}" for x in items[:50]]
            if len(items) > 50:
                lines.append(f"  ... {len(items) - 50} more in import-report.json")
    if left["no_locality"]:
        lines.append(f"children with no locality (left out): {len(left['no_locality'])}")
        lines += [f"  - {x['child_id']}: {x['fix']}" for x in left["no_locality"][:50]]
    if report["workers_with_no_fte"]:
        lines.append(f"workers with no FTE (the mapping's defaults.fte used): "
                     f"{len(report['workers_with_no_fte'])}: "
                     + ", ".join(report["workers_with_no_fte"][:20]))
    return "\n".join(lines)


def import_to(ssd: Path, mapping: Path, out: Path, day: dt.date, fmt: str,
              replace: bool = False) -> tuple[Imported, tuple[Path, Path, Path]]:
    """`rebalancer import-ssd`: the extract read through its mapping and written to `out` as
    the imported tables, import-report.json, and a config.toml carrying the plan date (validate
    and rebalance read it from there); returns the import and the workers, children and config
    paths. The output folder is checked before anything is read (OutputError)."""
    from rebalancer.io.outputs import atomic_write, check_output_dir, claim, write_table

    check_output_dir(out, [mapping, ssd], fmt)
    if out.resolve() in (ssd.resolve(), mapping.resolve().parent):
        raise UsageError(f"--out {out} holds the extract or its mapping; choose another folder",
                         "--out")
    result = import_ssd(ssd, load_mapping(mapping), day)
    # tables and a configuration a lead may have edited since: never written over
    claim(out, replace, "files (an earlier import, or a configuration you edited?)")
    out.mkdir(parents=True, exist_ok=True)
    w, c, cfg = out / f"workers.{fmt}", out / f"children.{fmt}", out / "config.toml"
    write_table(result.workers, w, fmt)
    write_table(result.children, c, fmt)
    text = json.dumps(result.report, indent=2)
    atomic_write(out / "import-report.json", lambda p: p.write_text(text, encoding="utf-8"))
    atomic_write(cfg, lambda p: p.write_text(
        f"# written by import-ssd: the plan date the extract was imported for\n"
        f"plan_date = {day.isoformat()}\n", encoding="utf-8"))
    return result, (w, c, cfg)
