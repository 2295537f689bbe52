"""State of the local BigQuery server: datasets, tables, views, rows, jobs (in memory).

Rules a reader must know:
- One re-entrant lock (Store.lock) guards everything; the HTTP layer takes it
  around each API call, so every call sees and leaves a consistent state.
- Time comes from Store.now(): the wall clock plus an offset tests can move
  (POST /_clock), so streaming-buffer, insertId and token windows can be
  crossed without sleeping.
- Every row remembers when insertAll stored it: it is "in the streaming
  buffer" for STREAMING_BUFFER seconds (TRUNCATE TABLE, and a DELETE that
  matches it, are refused while a row is, and tables.get counts it under streamingBuffer.estimatedRows, not
  numRows); an insertId stored in the same table within DEDUP_WINDOW seconds
  is acknowledged without storing the row again.
- The SQL engine (bqsql.py) sees the store through resolve(), truncate() and delete().
"""

import base64
import hashlib
import json
import threading
import time

STREAMING_BUFFER = 1800.0  # s; BigQuery's lasts "up to 90 minutes"
DEDUP_WINDOW = 600.0       # s; BigQuery's de-duplication is best effort, "at least one minute"


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


def not_found(what, name, in_location):
    return ApiError(404, "notFound", "Not found: %s %s%s"
                    % (what, name, " was not found in location US" if in_location else ""))


class Row:
    __slots__ = ("data", "t", "_size")

    def __init__(self, data, t):
        self.data = data
        self.t = t
        self._size = None

    @property
    def size(self):
        """Bytes of the row as JSON (tables.get's numBytes); computed when first asked for."""
        if self._size is None:
            self._size = len(json.dumps(self.data))
        return self._size


class Table:
    def __init__(self, project, dataset, table_id, resource, created):
        self.project = project
        self.dataset = dataset
        self.table_id = table_id
        self.resource = resource      # the user-settable parts of the Table resource
        self.created = created
        self.modified = created
        self.rows = []
        self.dedup = {}               # insertId -> when stored

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
        self.tables = {}


class Store:
    MAX_JOBS = 2000

    def __init__(self):
        self.lock = threading.RLock()
        self.clock_offset = 0.0
        self.clear()

    def clear(self):
        self.datasets = {}            # (project, dataset) -> Dataset
        self.jobs = {}                # (project, jobId) -> job dict, oldest first

    def now(self):
        return time.time() + self.clock_offset

    def in_buffer(self, row, now):
        return now - row.t < STREAMING_BUFFER

    def dataset(self, p, d, in_location=False):
        ds = self.datasets.get((p, d))
        if ds is None:
            raise not_found("Dataset", "%s:%s" % (p, d), in_location)
        return ds

    def table(self, p, d, t, in_location=False):
        tb = self.dataset(p, d, in_location).tables.get(t)
        if tb is None:
            raise not_found("Table", "%s:%s.%s" % (p, d, t), in_location)
        return tb

    def add_dataset(self, p, d, resource):
        ds = self.datasets[(p, d)] = Dataset(p, d, resource, self.now())
        return ds

    def add_table(self, ds, t, resource):
        tb = ds.tables[t] = Table(ds.project, ds.dataset_id, t, resource, self.now())
        return tb

    def update_table(self, tb, resource):
        tb.resource = resource
        tb.modified = self.now()

    def append_rows(self, tb, items):
        """items: [(stored dict, insertId or None)]; returns (stored, deduplicated) counts."""
        now = self.now()
        if len(tb.dedup) > 100000:
            tb.dedup = {k: v for k, v in tb.dedup.items() if now - v < DEDUP_WINDOW}
        stored = dups = 0
        for data, iid in items:
            if iid:
                seen = tb.dedup.get(iid)
                if seen is not None and now - seen < DEDUP_WINDOW:
                    dups += 1
                    continue
                tb.dedup[iid] = now
            tb.rows.append(Row(data, now))
            stored += 1
        if stored:
            tb.modified = now
        return stored, dups

    def add_job(self, p, job_id, job):
        self.jobs[(p, job_id)] = job
        while len(self.jobs) > self.MAX_JOBS:
            del self.jobs[next(iter(self.jobs))]

    # what the SQL engine needs
    def resolve(self, p, d, t):
        tb = self.table(p, d, t, in_location=True)
        if tb.kind == "VIEW":
            return ("VIEW", tb.resource["view"]["query"], tb.project)
        return ("TABLE", tb.fields, [r.data for r in tb.rows])

    def truncate(self, p, d, t):
        tb = self.table(p, d, t, in_location=True)
        if tb.kind == "VIEW":
            raise ApiError(400, "invalidQuery", "TRUNCATE TABLE cannot be applied to the view "
                           "%s.%s.%s" % (p, d, t))
        now = self.now()
        if any(self.in_buffer(r, now) for r in tb.rows):
            raise ApiError(400, "invalidQuery",
                           "TRUNCATE TABLE statement over table %s.%s.%s would affect rows in the "
                           "streaming buffer, which is not supported" % (p, d, t))
        n = len(tb.rows)
        tb.rows = []
        tb.modified = now
        return n

    def delete(self, p, d, t, predicate):
        tb = self.table(p, d, t, in_location=True)
        now = self.now()
        hit = [r for r in tb.rows if predicate(r.data)]
        if any(self.in_buffer(r, now) for r in hit):
            raise ApiError(400, "invalidQuery",
                           "UPDATE or DELETE statement over table %s.%s.%s would affect rows in the "
                           "streaming buffer, which is not supported" % (p, d, t))
        if hit:
            gone = set(map(id, hit))
            tb.rows = [r for r in tb.rows if id(r) not in gone]
            tb.modified = now
        return len(hit)


def table_etag(tb):
    """The table's etag: a hash of what it is, so it changes whenever the table does."""
    state = json.dumps([tb.resource, tb.modified, len(tb.rows)], sort_keys=True, default=str)
    return base64.b64encode(hashlib.sha1(state.encode()).digest()[:12]).decode()


def table_resource(store, tb, base_url):
    """The Table resource as tables.get returns it."""
    r = {"kind": "bigquery#table",
         "etag": table_etag(tb),
         "id": "%s:%s.%s" % (tb.project, tb.dataset, tb.table_id),
         "selfLink": "%sprojects/%s/datasets/%s/tables/%s" % (base_url, tb.project, tb.dataset,
                                                               tb.table_id),
         "tableReference": tb.ref()}
    r.update(tb.resource)
    r.update(creationTime=str(int(tb.created * 1000)), lastModifiedTime=str(int(tb.modified * 1000)),
             type=tb.kind, location="US")
    if tb.kind == "TABLE":
        now = store.now()
        buffered = [row for row in tb.rows if store.in_buffer(row, now)]
        r.update(numBytes=str(sum(row.size for row in tb.rows) - sum(row.size for row in buffered)),
                 numLongTermBytes="0", numRows=str(len(tb.rows) - len(buffered)))
        if buffered:
            r["streamingBuffer"] = {"estimatedRows": str(len(buffered)),
                                    "estimatedBytes": str(sum(row.size for row in buffered)),
                                    "oldestEntryTime": str(int(buffered[0].t * 1000))}
    r.setdefault("schema", {"fields": []})
    return r
