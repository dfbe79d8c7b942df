"""A synthetic SSD extract of a generated county, with the quirks of real ones, and its mapping.

`generate --format ssd` writes it; importing it gives back the county's workers and children
for every field the SSD carries (the round-trip test). Personal columns are present, as in a
real extract, and filled with obviously fake values, so a test can prove they never leak.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TITLES = {"asye": ["Social Worker (ASYE)", "Newly Qualified Social Worker"],
          "sw": ["Social Worker", "social worker", "Social Worker "],
          "senior": ["Senior Practitioner", "Snr Practitioner", "Senior Social Worker"],
          "advanced": ["Advanced Practitioner", "Consultant Social Worker"]}
FAKE = "FAKE-PERSONAL-"


def _mapping_text(localities: list[str]) -> str:
    lines = ['[roles]', 'allocated_worker = ["CW", "SW"]', "",
             "[grades]            # first match wins",
             'advanced = ["advanced practitioner", "consultant social worker"]',
             'senior = ["senior practitioner", "snr practitioner", "senior social worker"]',
             'asye = ["asye", "newly qualified"]', 'sw = ["social worker"]', "",
             "[localities]"]
    lines += [f'"{loc} Children\'s Services" = "{loc}"' for loc in localities]
    lines += ["", "[postcodes]"]
    lines += [f'{_district_of(i)} = "{loc}"' for i, loc in enumerate(localities)]
    lines += ["", "[proceedings]", 'legal_status = ["ICO", "Interim care order", "C1", "C2"]',
              "", "[defaults]", "fte = 1.0", "agency = false",
              'open_end_dates = ["1900-01-01"]', ""]
    return "\n".join(lines)


def _district_of(i: int) -> str:
    return f"NN{i + 1}"


def write_ssd(tables: dict[str, pd.DataFrame], out: Path, seed: int = 0,
              plan_date: dt.date = dt.date(2026, 12, 1)) -> list[Path]:
    """The SSD tables (CSV) and `mapping.toml` for a generated county."""
    rng = np.random.default_rng(seed + 7919)
    w, c = tables["workers"], tables["children"]
    out.mkdir(parents=True, exist_ok=True)
    localities = sorted(set(w["locality"]) | set(c["locality"]))
    loc_index = {loc: i for i, loc in enumerate(localities)}
    teams = sorted(set(w["team"]))
    team_id = {t: f"T{i + 1:04d}" for i, t in enumerate(teams)}
    team_loc = dict(zip(w["team"], w["locality"], strict=False))
    dept = pd.DataFrame({
        "dept_team_id": [team_id[t] for t in teams], "dept_team_name": teams,
        "dept_team_parent_id": [f"P{loc_index[team_loc[t]] + 1:03d}" for t in teams],
        "dept_team_parent_name": [f"{team_loc[t]} Children's Services" for t in teams]})
    # professionals: every worker, plus managers whose titles no pattern matches
    n = len(w)
    titles = [TITLES[g][int(rng.integers(len(TITLES[g])))] for g in w["grade"]]
    fte_text = [("" if f == 1.0 and rng.random() < 0.3 else f"{f:g}") for f in w["fte"]]
    agency = w["agency"].astype(str).str.lower() == "true"
    flag = [("Y" if a else ("" if rng.random() < 0.3 else "N")) for a in agency]
    prof = pd.DataFrame({
        "prof_professional_id": w["worker_id"], "prof_professional_job_title": titles,
        "prof_professional_department": [team_id[t] for t in w["team"]],
        "prof_full_time_equivalency": fte_text, "prof_agency_worker_flag": flag,
        "prof_social_worker_registration_no": [f"{FAKE}REG-{i:05d}" for i in range(n)],
        "prof_professional_name": [f"{FAKE}Name {i}" for i in range(n)]})
    managers = pd.DataFrame({
        "prof_professional_id": [f"M{i + 1:03d}" for i in range(3)],
        "prof_professional_job_title": ["Team Manager", "Service Manager", "Business Support"],
        "prof_professional_department": [team_id[teams[0]]] * 3,
        "prof_full_time_equivalency": ["1"] * 3, "prof_agency_worker_flag": ["N"] * 3,
        "prof_social_worker_registration_no": [f"{FAKE}REG-M{i}" for i in range(3)],
        "prof_professional_name": [f"{FAKE}Manager {i}" for i in range(3)]})
    prof = pd.concat([prof, managers], ignore_index=True)
    # involvements: the open allocation of each allocated child, past ones, and quirks
    worker_team = dict(zip(w["worker_id"], w["team"], strict=True))
    rows = []
    k = 0

    def add(prof_id: str, role: str, team: str, person: str, start: str, end: str) -> None:
        nonlocal k
        k += 1
        rows.append((f"I{k:07d}", prof_id, role, team, person, start, end))

    changes = c["worker_changes_12m"].astype(int) if "worker_changes_12m" in c \
        else pd.Series(0, index=c.index)
    window = plan_date - dt.timedelta(days=365)
    ids = w["worker_id"].to_numpy(object)

    def other_than(wid: str) -> str:
        pick = str(ids[int(rng.integers(n))])
        return pick if pick != wid else str(ids[(int(np.flatnonzero(ids == wid)[0]) + 1) % n])

    allocated = c[c["current_worker_id"] != ""]
    with_changes = allocated.index[changes[allocated.index] >= 1]
    handover = with_changes[0] if len(with_changes) else None
    for idx, r in zip(allocated.index, allocated.itertuples(index=False), strict=True):
        start = r.allocated_on + ("T09:30:00" if rng.random() < 0.3 else "")
        end = "1900-01-01" if rng.random() < 0.2 else ""
        k = int(changes[idx])
        if k:
            _history(add, rng, other_than, worker_team, team_id, r.child_id, r.current_worker_id,
                     k, window, dt.date.fromisoformat(r.allocated_on), handover == idx)
        add(r.current_worker_id, "CW" if rng.random() < 0.8 else "SW",
            team_id[worker_team[r.current_worker_id]], r.child_id, start, end)
        since = dt.date.fromisoformat(r.allocated_on)
        if not k and rng.random() < 0.1:
            if since < window:  # an earlier allocation, before the 12 months: no change in them
                add(other_than(r.current_worker_id), "CW", team_id[teams[0]], r.child_id,
                    "2024-01-01", "2025-01-01")
            else:  # a closed involvement of the same worker, reopened: not a change
                add(r.current_worker_id, "SW", team_id[worker_team[r.current_worker_id]],
                    r.child_id, (since - dt.timedelta(days=40)).isoformat(),
                    (since - dt.timedelta(days=10)).isoformat())
        if rng.random() < 0.05:  # another role (an independent reviewer): never a change
            add(other_than(r.current_worker_id), "IRO", team_id[teams[0]], r.child_id,
                (plan_date - dt.timedelta(days=20)).isoformat(), "")
    unalloc = c[c["current_worker_id"] == ""]
    for idx, r in zip(unalloc.index, unalloc.itertuples(index=False), strict=True):
        k = int(changes[idx])
        if k:  # its last worker's involvement closed before the plan (left, or ended)
            last = str(ids[int(rng.integers(n))])
            _history(add, rng, other_than, worker_team, team_id, r.child_id, last, k, window,
                     plan_date - dt.timedelta(days=20), False)
            add(last, "CW", team_id[worker_team[last]], r.child_id,
                (plan_date - dt.timedelta(days=20)).isoformat(),
                (plan_date - dt.timedelta(days=5)).isoformat())
    unalloc = unalloc[changes[unalloc.index] == 0]
    for r in unalloc.head(3).itertuples(index=False):  # worker -1: none, and an unknown one
        add("-1", "CW", team_id[teams[0]], r.child_id, "2026-11-01", "")
    if len(unalloc):
        add("P99999", "CW", team_id[teams[0]], unalloc["child_id"].iat[0], "2026-11-02", "")
    inv = pd.DataFrame(rows, columns=["invo_involvements_id", "invo_professional_id",
                                      "invo_professional_role_id", "invo_professional_team",
                                      "invo_person_id", "invo_involvement_start_date",
                                      "invo_involvement_end_date"])
    # people: the children, and people whose cases are closed
    closed = [f"X{i:06d}" for i in range(max(3, len(c) // 20))]
    ids = list(c["child_id"]) + closed
    person = pd.DataFrame({"pers_person_id": ids,
                           "pers_forename": [f"{FAKE}Forename{i}" for i in range(len(ids))],
                           "pers_surname": [f"{FAKE}Surname{i}" for i in range(len(ids))],
                           "pers_dob": ["2015-01-01"] * len(ids)})
    fam = c[c["family_id"] != ""]
    family = pd.DataFrame({"fami_table_id": range(len(fam)), "fami_family_id": fam["family_id"],
                           "fami_person_id": fam["child_id"]})
    post = [_postcode(_district_of(loc_index[loc]), rng) for loc in c["locality"]]
    address = pd.DataFrame({
        "addr_person_id": c["child_id"], "addr_address_type": "HOME",
        "addr_address_start_date": "2020-01-01", "addr_address_end_date": "",
        "addr_address_postcode": post,
        "addr_address_json": [f"{FAKE}street {i}" for i in range(len(c))]})
    old = pd.DataFrame({"addr_person_id": c["child_id"].head(5), "addr_address_type": "HOME",
                        "addr_address_start_date": "2010-01-01",
                        "addr_address_end_date": "2019-12-31",
                        "addr_address_postcode": "ZZ9 9ZZ",
                        "addr_address_json": f"{FAKE}old street"})
    address = pd.concat([old, address], ignore_index=True)
    ct = c["case_type"]
    plan = plan_date.isoformat()

    def episodes(mask: pd.Series, prefix: str, start: str, end: str, ended: str = ""
                 ) -> pd.DataFrame:
        ids_ = list(c.loc[mask, "child_id"])
        ends = [("1900-01-01" if rng.random() < 0.15 else "") for _ in ids_]
        df = pd.DataFrame({f"{prefix}_person_id": ids_, start: "2026-01-10", end: ends})
        past = pd.DataFrame({f"{prefix}_person_id": closed, start: "2023-01-01",
                             end: ended or "2024-01-01"})
        return pd.concat([df, past], ignore_index=True)

    cla = episodes(ct == "cla", "clae", "clae_cla_episode_start_date",
                   "clae_cla_episode_ceased_date")
    cp = episodes(ct == "cp", "cppl", "cppl_cp_plan_start_date", "cppl_cp_plan_end_date")
    cin = episodes(ct == "cin", "cinp", "cinp_cin_plan_start_date", "cinp_cin_plan_end_date")
    assess_ids = list(c.loc[ct == "assessment", "child_id"])
    done = list(c.loc[ct == "cin", "child_id"])  # assessed, then a plan
    assessments = pd.DataFrame({
        "cina_person_id": assess_ids + done,
        "cina_assessment_start_date": ["2026-11-20"] * len(assess_ids) + ["2025-12-01"] * len(done),
        "cina_assessment_auth_date": [""] * len(assess_ids) + ["2026-01-05"] * len(done)})
    procs = c.loc[c["in_proceedings"].astype(str).str.lower() == "true", "child_id"]
    legal = pd.DataFrame({"lega_person_id": list(procs) + list(c.loc[ct == "cla", "child_id"]
                                                               .head(3)),
                          "lega_legal_status": ["ICO"] * len(procs) + ["V2"] * min(
                              3, int((ct == "cla").sum())),
                          "lega_legal_status_start_date": "2026-06-01",
                          "lega_legal_status_end_date": ""})
    written = {"ssd_professionals": prof, "ssd_department": dept, "ssd_involvements": inv,
               "ssd_person": person, "ssd_family": family, "ssd_address": address,
               "ssd_cin_assessments": assessments, "ssd_cin_plans": cin, "ssd_cp_plans": cp,
               "ssd_cla_episodes": cla, "ssd_legal_status": legal}
    paths = []
    for name, df in written.items():
        p = out / f"{name}.csv"
        df.to_csv(p, index=False, lineterminator="\n")
        paths.append(p)
    m = out / "mapping.toml"
    m.write_text(f"# mapping for the synthetic extract (plan date {plan})\n"
                 + _mapping_text(localities), encoding="utf-8")
    paths.append(m)
    return paths


def _history(add: Any, rng: np.random.Generator, other_than: Any, worker_team: dict[str, str],
             team_id: dict[str, str], child: str, last: str, k: int, window: dt.date,
             last_start: dt.date, handover: bool) -> None:
    """The involvements before `last`'s that make `k` changes of worker in the 12 months: a first
    allocation before them, then k - 1 changes inside the window (the k-th is `last`'s own
    start). Some children return to a worker they had before; the handover child's previous
    involvement is still open (two open involvements, one change)."""
    chain = [last]
    for _ in range(k):
        chain.insert(0, other_than(chain[0]))
    if k >= 2 and (k == 2 or chain[-4] != last) and rng.random() < 0.3:
        chain[-3] = last  # a return to the same professional: still a change each time
    span = max((last_start - window).days, 0)
    starts = [window - dt.timedelta(days=100)] + [
        window + dt.timedelta(days=span * j // k) for j in range(1, k)] + [last_start]
    for j, wid in enumerate(chain[:-1]):
        open_ = handover and j == len(chain) - 2
        end = "" if open_ else starts[j + 1].isoformat()
        add(wid, "CW", team_id[worker_team[wid]], child, starts[j].isoformat(), end)


def _postcode(district: str, rng: np.random.Generator) -> str:
    inward = f"{int(rng.integers(1, 10))}{'ABDEFGHJ'[int(rng.integers(8))]}" \
             f"{'LNPQRSTU'[int(rng.integers(8))]}"
    style = int(rng.integers(3))
    if style == 0:
        return f"{district} {inward}"
    if style == 1:
        return f"{district}{inward}".lower()
    return f"{district.lower()} {inward.lower()}"
