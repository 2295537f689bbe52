"""test/openf1/store.py — the recorded OpenF1 sessions, indexed, and what the simulated clock shows.

Loads every `<endpoint>.json[.gz]` of each --data folder once (endpoints from
src/shared/endpoints.c via endpoint_table.py) and keeps, per record, its parsed
fields and its exact file text (what the server answers; f1tel compares its
tables with the files).  Indexes: per endpoint, by session_key and by
(session_key, driver_number), each with the time field's instants for bisect.
Records stay in file order (folders in --data order) in every answer.

The live session (--live): a record of it is visible from a time (`vis`), and
laps and stints have versions (`vers`, [(t_us, fields, text)], oldest first,
the last one the file's record).  The rules are the contract's (section 1):
  - timed endpoints: at their time (a car_data record with a null date at its
    predecessor's); sessions, meetings, drivers, starting_grid: from the
    start; session_result, championship_*: at date_end;
  - laps: at date_start with the sector fields null; sector 1 fields at
    date_start+s1, sector 2 at +s1+s2, the rest at the lap's end (date_start
    + lap_duration, else the driver's next lap's date_start, else date_end);
  - stints: once lap lap_start has started, lap_end = min(lap_end, the
    driver's current lap) until lap lap_end has started;
  - --withhold-every N: file index % N == N-1 of laps, position, pit hidden
    until their time + --backfill-after;
  - every time is clamped to `end_all` = date_end + backfill + 60 s: from then
    on every record is the file's.
All of it is computed at load; the structures are read-only afterwards (the
HTTP threads and the MQTT publisher read them without a lock).
"""
import bisect
import gzip
import json
import os

import endpoint_table
from query import Pred, to_us

NEVER = -(1 << 62)           # visible from the start
WITHHELD_ENDPOINTS = ("laps", "position", "pit")
AFTER_END = ("session_result", "championship_drivers", "championship_teams")
ALWAYS = ("sessions", "meetings", "drivers", "starting_grid")
SECTOR_FIELDS = (("duration_sector_1", "segments_sector_1", "i1_speed"),
                 ("duration_sector_2", "segments_sector_2", "i2_speed"))
LAP_LATE_FIELDS = ("lap_duration", "duration_sector_1", "duration_sector_2", "duration_sector_3",
                   "segments_sector_1", "segments_sector_2", "segments_sector_3",
                   "i1_speed", "i2_speed", "st_speed")


def dumps(d):
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def read_array(path):
    """(records, their texts as bytes) of a compact JSON array file (.gz: gunzipped).
    The texts are the file's own slices when the split on "},{" gives one per record
    (records hold no objects), else each record re-encoded."""
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    recs = json.loads(text)
    if not isinstance(recs, list):
        raise ValueError("%s: not a JSON array" % path)
    body = text.strip()[1:-1].strip()
    parts = body.split("},{") if body else []
    if len(parts) == len(recs) and all(isinstance(r, dict) for r in recs):
        n = len(parts)
        texts = []
        for i, p in enumerate(parts):
            if i > 0:
                p = "{" + p
            if i < n - 1:
                p = p + "}"
            texts.append(p.encode("utf-8"))
    else:
        texts = [dumps(r) for r in recs]
    return recs, texts


class Group:
    """Indices of records (file order) and the sort key of their time for bisect."""
    __slots__ = ("idx", "tkey", "sorted")

    def __init__(self):
        self.idx = []
        self.tkey = []
        self.sorted = True

    def add(self, i, tk):
        if self.tkey and tk < self.tkey[-1]:
            self.sorted = False
        self.idx.append(i)
        self.tkey.append(tk)


class Table:
    def __init__(self, ep):
        self.ep = ep
        self.recs, self.texts, self.times, self.sk, self.fpos = [], [], [], [], []
        self.all = Group()
        self.by_session = {}
        self.by_sd = {}
        self.vis = {}     # live records: idx -> first visible time (us)
        self.vers = {}    # live records with versions: idx -> [(t_us, fields, text)]

    def add_file(self, recs, texts):
        tf = self.ep.time_field
        last = NEVER
        for pos, (r, t) in enumerate(zip(recs, texts)):
            i = len(self.recs)
            us = to_us(r.get(tf)) if tf else None
            tk = us if us is not None else last   # a null date sorts after its predecessor
            last = tk
            sk = r.get("session_key")
            self.recs.append(r)
            self.texts.append(t)
            self.times.append(us)
            self.sk.append(sk)
            self.fpos.append(pos)
            self.all.add(i, tk)
            self.by_session.setdefault(sk, Group()).add(i, tk)
            if "driver_number" in self.ep.keys:
                self.by_sd.setdefault((sk, r.get("driver_number")), Group()).add(i, tk)

    def version(self, i, now, live_sk):
        """(fields, text) of record i as visible at now, or None if not yet visible."""
        if live_sk is None or self.sk[i] != live_sk:
            return self.recs[i], self.texts[i]
        if self.vis.get(i, NEVER) > now:
            return None
        vs = self.vers.get(i)
        if vs is None:
            return self.recs[i], self.texts[i]
        for t, d, txt in reversed(vs):
            if t <= now:
                return d, txt
        return None

    def _sessions_of(self, g):
        """The session keys a group's records belong to."""
        if g is self.all:
            return self.by_session.keys()
        return {self.sk[g.idx[0]]} if g.idx else ()

    def select(self, filt, now, live_sk):
        """[(fields, text)] of the records matching filt (as visible at now), in file order."""
        sks = filt.int_eq("session_key")
        dns = filt.int_eq("driver_number")
        done = set()
        if sks is not None and dns is not None and "driver_number" in self.ep.keys:
            groups = [self.by_sd[(s, d)] for s in sks for d in dns if (s, d) in self.by_sd]
            done = {"session_key", "driver_number"}
        elif sks is not None:
            groups = [self.by_session[s] for s in sks if s in self.by_session]
            done = {"session_key"}
        else:
            groups = [self.all]
        tf = self.ep.time_field
        tpred = None
        if tf and tf in filt.conds:
            tpred = Pred(filt.conds[tf], True)
            done.add(tf)
        preds = [Pred(c, f in self.ep.date_fields) for f, c in filt.conds.items() if f not in done]
        hits = []
        for g in groups:
            lo, hi = 0, len(g.idx)
            if tpred is not None and g.sorted:
                lo, hi = time_range(g.tkey, tpred)
            recs, times, texts = self.recs, self.times, self.texts
            if not preds and (live_sk is None or live_sk not in self._sessions_of(g)) and (
                    tpred is None or not any(times[i] is None for i in g.idx[lo:hi])):
                # the index answered it all (a bisected time range has no null times)
                hits.extend((i, (recs[i], texts[i])) for i in g.idx[lo:hi]
                            if tpred is None or tpred.match_us(times[i]))
                continue
            for k in range(lo, hi):
                i = g.idx[k]
                if tpred is not None and not tpred.match_us(times[i]):
                    continue
                got = self.version(i, now, live_sk) if live_sk is not None else (recs[i], texts[i])
                if got is None:
                    continue
                d = got[0]
                if all(p.match(d.get(p.field)) for p in preds):
                    hits.append((i, got))
        if len(groups) > 1:
            hits.sort(key=lambda h: h[0])
        return [h[1] for h in hits]


def time_range(tkey, pred):
    """The [lo, hi) slice of a sorted time-key list that pred's bounds allow."""
    lo, hi = 0, len(tkey)
    if pred.date_eq is not None:
        if not pred.date_eq:
            return 0, 0
        lo = bisect.bisect_left(tkey, min(pred.date_eq))
        hi = bisect.bisect_right(tkey, max(pred.date_eq))
    for op, b in pred.date_bounds:
        if b is None:
            return 0, 0
        if op == ">":
            lo = max(lo, bisect.bisect_right(tkey, b))
        elif op == ">=":
            lo = max(lo, bisect.bisect_left(tkey, b))
        elif op == "<":
            hi = min(hi, bisect.bisect_left(tkey, b))
        elif op == "<=":
            hi = min(hi, bisect.bisect_right(tkey, b))
    return lo, max(lo, hi)


class Store:
    def __init__(self, dirs, root=None):
        self.endpoints = endpoint_table.load(root)
        self.tables = {e.name: Table(e) for e in self.endpoints}
        for d in dirs:
            if not os.path.isdir(d):
                raise ValueError("--data %s: not a folder" % d)
            for name, table in self.tables.items():
                for fn in (name + ".json", name + ".json.gz"):
                    p = os.path.join(d, fn)
                    if os.path.exists(p):
                        table.add_file(*read_array(p))
        self.sessions = {}   # session_key -> (date_start_us, date_end_us, meeting_key)
        for r in self.tables["sessions"].recs:
            self.sessions[r.get("session_key")] = (to_us(r.get("date_start")), to_us(r.get("date_end")),
                                                   r.get("meeting_key"))
        self.live_sk = None
        self.end_all = None
        self.events = []     # live: [(t_us, endpoint, idx, fields, text)] in time order

    def latest(self, now):
        """(session_key, meeting_key) of the latest session started by now, or (None, None)."""
        best = None
        for sk, (ds, de, mk) in self.sessions.items():
            if ds is not None and ds <= now and (best is None or ds > best[0]):
                best = (ds, sk, mk)
        return (best[1], best[2]) if best else (None, None)

    # ---- the live session --------------------------------------------------------

    def make_live(self, sk, withhold_every, backfill_us):
        if sk not in self.sessions or None in self.sessions[sk][:2]:
            raise ValueError("--live %s: no such session (with date_start and date_end) in --data" % sk)
        self.live_sk = sk
        ds, de, _ = self.sessions[sk]
        self.end_all = de + backfill_us + 60 * 1000000
        laps = self.tables["laps"]
        lap_start, lap_end = self._lap_times(laps, sk, de)
        for name, t in self.tables.items():
            g = t.by_session.get(sk)
            if g is None:
                continue
            for k, i in enumerate(g.idx):
                if name == "laps":
                    vs = lap_versions(t.recs[i], t.texts[i], lap_start[i], lap_end[i])
                elif name == "stints":
                    vs = stint_versions(t.recs[i], t.texts[i], lap_start, laps, sk, de)
                elif name in ALWAYS:
                    vs = [(NEVER, t.recs[i], t.texts[i])]
                elif name in AFTER_END:
                    vs = [(de, t.recs[i], t.texts[i])]
                else:
                    vs = [(g.tkey[k], t.recs[i], t.texts[i])]   # the time, or its predecessor's
                if (withhold_every > 0 and name in WITHHELD_ENDPOINTS and
                        t.fpos[i] % withhold_every == withhold_every - 1):
                    vs = withhold(vs, (t.times[i] or vs[0][0]) + backfill_us)
                vs = [(min(tv, self.end_all), d, txt) for tv, d, txt in vs]
                t.vis[i] = vs[0][0]
                if len(vs) > 1:
                    t.vers[i] = vs
                for tv, d, txt in vs:
                    self.events.append((tv, name, i, d, txt))
        self.events.sort(key=lambda e: (e[0], e[2]))

    @staticmethod
    def _lap_times(laps, sk, de):
        """{idx: date_start us}, {idx: end us} of the session's laps."""
        start, end = {}, {}
        per_driver = {}
        for (s, dn), g in laps.by_sd.items():
            if s == sk:
                per_driver[dn] = sorted(g.idx, key=lambda i: laps.recs[i].get("lap_number") or 0)
        for dn, idxs in per_driver.items():
            for n, i in enumerate(idxs):
                r = laps.recs[i]
                ds = laps.times[i]
                start[i] = ds
                if r.get("lap_duration") is not None and ds is not None:
                    end[i] = ds + int(round(r["lap_duration"] * 1000000))
                elif n + 1 < len(idxs) and laps.times[idxs[n + 1]] is not None:
                    end[i] = laps.times[idxs[n + 1]]
                else:
                    end[i] = de
        return start, end


def lap_versions(rec, text, start, end):
    """A lap's versions: sectors null at its start, sector 1 and 2 as they complete,
    the file's record at its end."""
    if start is None:
        return [(end, rec, text)]
    v0 = dict(rec)
    for f in LAP_LATE_FIELDS:
        if f in v0:
            v0[f] = None
    out = [(start, v0)]
    t, cur = start, v0
    for k, fields in enumerate(SECTOR_FIELDS):
        dur = rec.get(fields[0])
        if dur is None:
            break
        t += int(round(dur * 1000000))
        if t >= end:
            break
        cur = dict(cur)
        for f in fields:
            if f in rec:
                cur[f] = rec[f]
        out.append((t, cur))
    vs = []
    for tv, d in out:
        if vs and d == vs[-1][1]:
            continue
        vs.append((tv, d, dumps(d)))
    if vs and vs[-1][1] == rec:
        vs[-1] = (vs[-1][0], rec, text)
    else:
        vs.append((max(end, start), rec, text))
    return vs


def stint_versions(rec, text, lap_start, laps, sk, de):
    """A stint's versions: from the start of lap lap_start, lap_end growing with the
    driver's current lap, the file's record from the start of lap lap_end."""
    g = laps.by_sd.get((sk, rec.get("driver_number")))
    started = {}
    if g is not None:
        for i in g.idx:
            n = laps.recs[i].get("lap_number")
            if n is not None and lap_start.get(i) is not None:
                started[n] = lap_start[i]
    ls, le = rec.get("lap_start"), rec.get("lap_end")
    if not isinstance(ls, int) or not isinstance(le, int) or ls not in started:
        return [(de, rec, text)]
    t0 = started[ls]
    vs = []
    for n in range(ls, le):
        if n in started and started[n] >= t0:
            d = dict(rec)
            d["lap_end"] = n
            vs.append((started[n], d, dumps(d)))
    vs.append((max(t0, started.get(le, de)), rec, text))
    return vs


def withhold(vs, until):
    """Versions of a withheld record: nothing before `until`, then the one of that time."""
    before = [v for v in vs if v[0] <= until]
    after = [v for v in vs if v[0] > until]
    if before:
        return [(until, before[-1][1], before[-1][2])] + after
    return after
