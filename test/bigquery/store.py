"""State of the local BigQuery server: datasets, tables, views, rows, jobs.

Rules a reader must know:
- One re-entrant lock (Store.lock) guards everything; the HTTP layer takes it
  around each API call, so every call sees and leaves a consistent state.
- Time comes from Store.now(): the wall clock plus an offset tests can move
  (POST /_clock), so streaming-buffer, insertId and token windows can be
  crossed without sleeping.
- Every row remembers when insertAll stored it and its insertId: a row is "in
  the streaming buffer" for --streaming-buffer seconds (DML touching it is
  refused, tables.get counts it under streamingBuffer, not numRows), and an
  insertId seen on the same table within --dedup-window seconds is
  acknowledged without storing the row again.
- With --state FILE every change is appended to FILE as one JSON line
  (a journal); on start the journal is replayed and rewritten compactly, so a
  restarted server has the same tables, rows and insertIds.
"""

import json
import os
import threading
import time

import bqsql
import bqtypes


class ApiError(Exception):
    """An error answered with Google's envelope."""

    def __init__(self, status, reason, message, location=None, location_type=None, extra=None):
        Exception.__init__(self, message)
        self.status = status
        self.reason = reason
        self.message = message
        self.location = location
        self.location_type = location_type
        self.extra = extra or {}


def not_found_dataset(p, d, in_location=False):
    msg = "Not found: Dataset %s:%s" % (p, d)
    if in_location:
        msg += " was not found in location US"
    return ApiError(404, "notFound", msg)


def not_found_table(p, d, t, in_location=False):
    msg = "Not found: Table %s:%s.%s" % (p, d, t)
    if in_location:
        msg += " was not found in location US"
    return ApiError(404, "notFound", msg)


class Row:
    __slots__ = ("data", "t", "insert_id", "streamed", "size")

    def __init__(self, data, t, insert_id=None, streamed=True):
        self.data = data
        self.t = t
        self.insert_id = insert_id
        self.streamed = streamed
        self.size = bqtypes.row_bytes(None, data)


class Table:
    def __init__(self, project, dataset, table_id, resource, created):
        self.project = project
        self.dataset = dataset
        self.table_id = table_id
        self.resource = resource      # user-settable parts of the Table resource
        self.created = created
        self.modified = created
        self.rows = []
        self.dedup = {}               # insertId -> time stored

    @property
    def kind(self):
        return "VIEW" if "view" in self.resource else "TABLE"

    @property
    def fields(self):
        return (self.resource.get("schema") or {}).get("fields") or []

    def ref(self):
        return {"projectId": self.project, "datasetId": self.dataset, "tableId": self.table_id}


class Dataset:
    def __init__(self, project, dataset_id, resource, created):
        self.project = project
        self.dataset_id = dataset_id
        self.resource = resource
        self.created = created
        self.modified = created
        self.tables = {}


class Store:
    def __init__(self, streaming_buffer=1800.0, dedup_window=600.0, new_table_404=0.0,
                 state_file=None, projects=None):
        self.lock = threading.RLock()
        self.streaming_buffer = streaming_buffer
        self.dedup_window = dedup_window
        self.new_table_404 = new_table_404
        self.state_file = state_file
        self.projects = list(projects or [])
        self.clock_offset = 0.0
        self.datasets = {}            # (project, dataset) -> Dataset
        self.jobs = {}                # (project, jobId) -> job dict
        self.job_order = []
        self.journal = None
        if state_file:
            self._load()

    # time
    def now(self):
        return time.time() + self.clock_offset

    def in_buffer(self, row, now=None):
        now = self.now() if now is None else now
        return row.streamed and now - row.t < self.streaming_buffer

    # lookup
    def check_project(self, p):
        if self.projects and p not in self.projects:
            raise ApiError(404, "notFound", "Not found: Project %s" % p)

    def dataset(self, p, d, in_location=False):
        self.check_project(p)
        ds = self.datasets.get((p, d))
        if ds is None:
            raise not_found_dataset(p, d, in_location)
        return ds

    def table(self, p, d, t, in_location=False):
        ds = self.dataset(p, d, in_location)
        tb = ds.tables.get(t)
        if tb is None:
            raise not_found_table(p, d, t, in_location)
        return tb

    # changes (each one journaled)
    def add_dataset(self, p, d, resource):
        now = self.now()
        ds = Dataset(p, d, resource, now)
        self.datasets[(p, d)] = ds
        self._log({"op": "dataset", "p": p, "d": d, "resource": resource, "created": now})
        return ds

    def update_dataset(self, ds, resource):
        ds.resource = resource
        ds.modified = self.now()
        self._log({"op": "dataset_update", "p": ds.project, "d": ds.dataset_id,
                   "resource": resource, "modified": ds.modified})

    def drop_dataset(self, p, d):
        del self.datasets[(p, d)]
        self._log({"op": "drop_dataset", "p": p, "d": d})

    def add_table(self, ds, t, resource):
        now = self.now()
        tb = Table(ds.project, ds.dataset_id, t, resource, now)
        ds.tables[t] = tb
        self._log({"op": "table", "p": ds.project, "d": ds.dataset_id, "t": t,
                   "resource": resource, "created": now})
        return tb

    def update_table(self, tb, resource):
        tb.resource = resource
        tb.modified = self.now()
        self._log({"op": "table_update", "p": tb.project, "d": tb.dataset, "t": tb.table_id,
                   "resource": resource, "modified": tb.modified})

    def drop_table(self, tb):
        del self.datasets[(tb.project, tb.dataset)].tables[tb.table_id]
        self._log({"op": "drop_table", "p": tb.project, "d": tb.dataset, "t": tb.table_id})

    def append_rows(self, tb, items):
        """items: [(stored dict, insertId or None)]; returns (stored, deduplicated) counts."""
        now = self.now()
        self._prune_dedup(tb, now)
        stored = []
        dups = 0
        for data, iid in items:
            if iid is not None and iid != "":
                seen = tb.dedup.get(iid)
                if seen is not None and now - seen < self.dedup_window:
                    dups += 1
                    continue
                tb.dedup[iid] = now
            row = Row(data, now, iid or None, True)
            tb.rows.append(row)
            stored.append(row)
        if stored:
            tb.modified = now
            self._log({"op": "rows", "p": tb.project, "d": tb.dataset, "t": tb.table_id,
                       "time": now, "rows": [[r.data, r.insert_id] for r in stored]})
        return len(stored), dups

    def _prune_dedup(self, tb, now):
        if len(tb.dedup) > 200000 or (tb.dedup and len(tb.dedup) % 1024 == 0):
            horizon = now - self.dedup_window
            tb.dedup = {k: v for k, v in tb.dedup.items() if v >= horizon}

    def remove_rows(self, tb, indexes):
        gone = set(indexes)
        tb.rows = [r for i, r in enumerate(tb.rows) if i not in gone]
        tb.modified = self.now()
        self._log({"op": "delete_rows", "p": tb.project, "d": tb.dataset, "t": tb.table_id,
                   "indexes": sorted(gone)})

    def truncate(self, tb):
        n = len(tb.rows)
        tb.rows = []
        tb.modified = self.now()
        self._log({"op": "truncate", "p": tb.project, "d": tb.dataset, "t": tb.table_id})
        return n

    def clear(self):
        self.datasets = {}
        self.jobs = {}
        self.job_order = []
        self._rewrite()

    # jobs (not persisted)
    def add_job(self, p, job_id, job):
        self.jobs[(p, job_id)] = job
        self.job_order.append((p, job_id))
        while len(self.job_order) > 2000:
            self.jobs.pop(self.job_order.pop(0), None)

    # persistence
    def _log(self, op):
        if not self.state_file:
            return
        if self.journal is None:
            self.journal = open(self.state_file, "a", encoding="utf-8")
        self.journal.write(json.dumps(op, separators=(",", ":"), default=_json_default) + "\n")
        self.journal.flush()

    def _load(self):
        if not os.path.exists(self.state_file):
            return
        with open(self.state_file, "r", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    op = json.loads(line)
                except ValueError:
                    # a line cut short by a crash: ignore it and what follows
                    break
                self._replay(op)
        self._rewrite()

    def _replay(self, op):
        k = op["op"]
        if k == "dataset":
            ds = Dataset(op["p"], op["d"], op["resource"], op["created"])
            self.datasets[(op["p"], op["d"])] = ds
            return
        if k == "dataset_update":
            ds = self.datasets[(op["p"], op["d"])]
            ds.resource = op["resource"]
            ds.modified = op["modified"]
            return
        if k == "drop_dataset":
            self.datasets.pop((op["p"], op["d"]), None)
            return
        ds = self.datasets.get((op["p"], op["d"]))
        if ds is None:
            return
        if k == "table":
            tb = Table(op["p"], op["d"], op["t"], op["resource"], op["created"])
            if "modified" in op:
                tb.modified = op["modified"]
            ds.tables[op["t"]] = tb
            return
        tb = ds.tables.get(op["t"])
        if tb is None:
            return
        if k == "table_update":
            tb.resource = op["resource"]
            tb.modified = op["modified"]
        elif k == "drop_table":
            del ds.tables[op["t"]]
        elif k == "rows":
            for item in op["rows"]:
                data, iid = item[0], item[1]
                t = item[2] if len(item) > 2 else op["time"]
                streamed = item[3] if len(item) > 3 else True
                tb.rows.append(Row(data, t, iid, streamed))
                if iid:
                    tb.dedup[iid] = t
            tb.modified = max(tb.modified, op.get("time", tb.modified))
        elif k == "delete_rows":
            gone = set(op["indexes"])
            tb.rows = [r for i, r in enumerate(tb.rows) if i not in gone]
        elif k == "truncate":
            tb.rows = []

    def _rewrite(self):
        if not self.state_file:
            return
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for (p, d), ds in self.datasets.items():
                f.write(json.dumps({"op": "dataset", "p": p, "d": d, "resource": ds.resource,
                                    "created": ds.created}, default=_json_default) + "\n")
                for t, tb in ds.tables.items():
                    f.write(json.dumps({"op": "table", "p": p, "d": d, "t": t,
                                        "resource": tb.resource, "created": tb.created,
                                        "modified": tb.modified}, default=_json_default) + "\n")
                    for i in range(0, len(tb.rows), 1000):
                        chunk = tb.rows[i:i + 1000]
                        f.write(json.dumps({"op": "rows", "p": p, "d": d, "t": t,
                                            "time": chunk[0].t,
                                            "rows": [[r.data, r.insert_id, r.t, r.streamed]
                                                     for r in chunk]},
                                           separators=(",", ":"), default=_json_default) + "\n")
        os.replace(tmp, self.state_file)
        if self.journal is not None:
            self.journal.close()
            self.journal = None


def _json_default(o):
    import decimal
    if isinstance(o, decimal.Decimal):
        return int(o) if o == o.to_integral_value() else float(o)
    raise TypeError("not JSON serialisable: %r" % (o,))


class StoreCatalog(bqsql.Catalog):
    """The SQL engine's view of the store (call with Store.lock held)."""

    def __init__(self, store):
        self.store = store

    def resolve(self, p, d, t):
        tb = self.store.table(p, d, t, in_location=True)
        if tb.kind == "VIEW":
            return ("VIEW", tb.resource["view"]["query"], tb.project)
        return ("TABLE", tb.fields, [r.data for r in tb.rows])

    def create_view(self, p, d, t, text, fields, replace, if_not_exists, description):
        ds = self.store.dataset(p, d, in_location=True)
        resource = {"view": {"query": text, "useLegacySql": False},
                    "schema": {"fields": fields}}
        if description:
            resource["description"] = description
        old = ds.tables.get(t)
        if old is not None:
            if if_not_exists:
                return "SKIP"
            if not replace:
                raise ApiError(409, "duplicate", "Already Exists: Table %s:%s.%s" % (p, d, t))
            if old.kind != "VIEW":
                raise ApiError(400, "invalidQuery",
                               "%s.%s.%s is a TABLE; CREATE OR REPLACE VIEW cannot replace it "
                               "(drop the table first)" % (p, d, t))
            self.store.update_table(old, resource)
            return "REPLACE"
        self.store.add_table(ds, t, resource)
        return "CREATE"

    def drop(self, p, d, t, what, if_exists):
        ds = self.store.dataset(p, d, in_location=True)
        tb = ds.tables.get(t)
        if tb is None:
            if if_exists:
                return "SKIP"
            raise not_found_table(p, d, t, in_location=True)
        if what == "VIEW" and tb.kind != "VIEW":
            raise ApiError(400, "invalidQuery", "DROP VIEW cannot drop %s.%s.%s, which is a TABLE"
                           % (p, d, t))
        if what == "TABLE" and tb.kind == "VIEW":
            raise ApiError(400, "invalidQuery", "DROP TABLE cannot drop %s.%s.%s, which is a VIEW"
                           % (p, d, t))
        self.store.drop_table(tb)
        return "DROP"

    def truncate(self, p, d, t):
        tb = self.store.table(p, d, t, in_location=True)
        if tb.kind == "VIEW":
            raise ApiError(400, "invalidQuery", "TRUNCATE TABLE cannot be applied to the view %s.%s.%s"
                           % (p, d, t))
        now = self.store.now()
        if any(self.store.in_buffer(r, now) for r in tb.rows):
            raise ApiError(400, "invalidQuery",
                           "TRUNCATE TABLE statement over table %s.%s.%s would affect rows in the "
                           "streaming buffer, which is not supported" % (p, d, t),
                           location="q", location_type="parameter")
        return self.store.truncate(tb)

    def delete(self, p, d, t, predicate):
        tb = self.store.table(p, d, t, in_location=True)
        now = self.store.now()
        hit = [i for i, r in enumerate(tb.rows) if predicate(r.data)]
        if any(self.store.in_buffer(tb.rows[i], now) for i in hit):
            raise ApiError(400, "invalidQuery",
                           "UPDATE or DELETE statement over table %s.%s.%s would affect rows in the "
                           "streaming buffer, which is not supported" % (p, d, t),
                           location="q", location_type="parameter")
        if hit:
            self.store.remove_rows(tb, hit)
        return len(hit)


def table_resource(store, tb, base_url):
    """The Table resource as tables.get returns it."""
    now = store.now()
    r = {
        "kind": "bigquery#table",
        "etag": "%x" % (int(tb.modified * 1000) & 0xFFFFFFFFFFFF),
        "id": "%s:%s.%s" % (tb.project, tb.dataset, tb.table_id),
        "selfLink": "%sprojects/%s/datasets/%s/tables/%s" % (base_url, tb.project, tb.dataset,
                                                              tb.table_id),
        "tableReference": tb.ref(),
    }
    for k, v in tb.resource.items():
        r[k] = v
    r["creationTime"] = str(int(tb.created * 1000))
    r["lastModifiedTime"] = str(int(tb.modified * 1000))
    r["type"] = tb.kind
    r["location"] = "US"
    if tb.kind == "TABLE":
        buffered = [row for row in tb.rows if store.in_buffer(row, now)]
        settled = len(tb.rows) - len(buffered)
        settled_bytes = sum(row.size for row in tb.rows if not store.in_buffer(row, now))
        r["numBytes"] = str(settled_bytes)
        r["numLongTermBytes"] = "0"
        r["numRows"] = str(settled)
        if buffered:
            r["streamingBuffer"] = {
                "estimatedRows": str(len(buffered)),
                "estimatedBytes": str(sum(row.size for row in buffered)),
                "oldestEntryTime": str(int(min(row.t for row in buffered) * 1000)),
            }
    if "schema" not in r:
        r["schema"] = {"fields": []} if tb.kind == "TABLE" else r.get("schema", {})
    return r
