"""The BigQuery REST v2 methods of the local server (no HTTP here).

Routes come from Google's discovery document (each method's flatPath), so a
real method this server does not model answers 501 UNIMPLEMENTED and an
unknown URL Google's HTML 404.  Request bodies are checked against the
method's request schema in the discovery document, as Google's front end
does: an unknown field anywhere is a 400 "Invalid JSON payload received.
Unknown name ...", a wrong JSON type a 400 "Invalid value at ...".

Modelled, because f1tel's sink, the tests, `bq` or google-cloud-bigquery call
them: datasets get/insert/list; tables get/insert/list/patch/update (schemas,
timePartitioning, clustering, views; If-Match against the etag); tabledata insertAll/list; jobs
query/insert (query jobs, done at once)/getQueryResults.  Api.call() returns (status,
JSON object) and raises store.ApiError for refusals.
"""

import base64
import json
import re
import secrets
import urllib.parse

import bqsql
import bqtypes
from store import ApiError, not_found, table_etag, table_resource

MAX_PAYLOAD = 10485760
MAX_ROWS = 50000
MAX_INSERT_ID = 128
DATASET_ID_RE = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
TABLE_ID_RE = re.compile(r"^[\w\- $]{1,1024}$", re.U)
JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")
PROTO_TYPES = {"boolean": "TYPE_BOOL", "string": "TYPE_STRING", "integer": "TYPE_INT32",
               "number": "TYPE_DOUBLE"}


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class PayloadError(Exception):
    def __init__(self, message, field):
        Exception.__init__(self, message)
        self.message = message
        self.field = field


class BodyValidator:
    """Checks a JSON body against a discovery schema, the way Google's front end does."""

    def __init__(self, schemas):
        self.schemas = schemas
        self.names = {}  # id(schema) -> {accepted name: property name} (proto JSON: camel and snake)

    def any_values(self, schema):
        """True when the object schema takes any property with any value."""
        addl = schema.get("additionalProperties")
        if isinstance(addl, dict) and "$ref" in addl:
            addl = self.schemas[addl["$ref"]]
        return isinstance(addl, dict) and addl.get("type") == "any"

    def validate(self, value, schema, path=""):
        if "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        t = schema.get("type")
        if value is None or t == "any":
            return
        if t == "object":
            if not isinstance(value, dict):
                raise PayloadError("Invalid value at '%s' (%s), %s" % (
                    path, "type.googleapis.com/google.protobuf.Struct"
                    if "additionalProperties" in schema else "TYPE_MESSAGE", json.dumps(value)), path)
            props = schema.get("properties") or {}
            if not props and self.any_values(schema):
                return  # a free-form object (JsonObject: a row's "json"): any value goes
            names = self.names.get(id(schema))
            if names is None:
                names = self.names[id(schema)] = dict({snake(k): k for k in props}, **{k: k for k in props})
            for k, v in value.items():
                if k in names:
                    self.validate(v, props[names[k]], (path + "." if path else "") + snake(names[k]))
                elif "additionalProperties" in schema:
                    self.validate(v, schema["additionalProperties"], "%s[%s]" % (path, k) if path else k)
                else:
                    raise PayloadError("Invalid JSON payload received. Unknown name \"%s\"%s: Cannot "
                                       "find field." % (k, " at '%s'" % path if path else ""),
                                       (path + "." if path else "") + k)
            return
        if t == "array":
            if not isinstance(value, list):
                raise PayloadError("Invalid value at '%s' (%s), %s" % (
                    path, PROTO_TYPES.get((schema.get("items") or {}).get("type"), "TYPE_MESSAGE"),
                    json.dumps(value)), path)
            for i, v in enumerate(value):
                self.validate(v, schema.get("items") or {"type": "any"}, "%s[%d]" % (path, i))
            return
        fmt = schema.get("format")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        integral = number and (isinstance(value, int) or value.is_integer())
        if t == "boolean":
            ok, proto = isinstance(value, bool), "TYPE_BOOL"
        elif t == "string":  # int64 fields are strings in JSON, numbers accepted
            ok = isinstance(value, str) or (fmt in ("int64", "uint64") and integral)
            proto = {"int64": "TYPE_INT64", "uint64": "TYPE_UINT64", "byte": "TYPE_BYTES"}.get(fmt, "TYPE_STRING")
        elif t == "integer":
            ok = integral or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))
            proto = "TYPE_UINT32" if fmt == "uint32" else "TYPE_INT32"
        else:  # number
            ok, proto = number or (isinstance(value, str) and re.fullmatch(
                r"NaN|-?Infinity|-?\d+(\.\d*)?([eE][+-]?\d+)?", value)), "TYPE_DOUBLE"
        if not ok:
            raise PayloadError("Invalid value at '%s' (%s), %s" % (path, proto, json.dumps(value)), path)


def _reject_constant(name):
    raise ValueError("Invalid JSON payload received. Unexpected token.\n%s\n^" % name)


def parse_json(body):
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant) if body else {}
    except UnicodeDecodeError:
        raise ApiError(400, "invalid", "Invalid JSON payload received. Invalid UTF-8.")
    except ValueError as e:
        msg = str(e)
        raise ApiError(400, "invalid", msg if msg.startswith("Invalid JSON payload")
                       else "Invalid JSON payload received. %s" % msg)


def _int_param(query, name, default):
    vals = query.get(name)
    if not vals:
        return default
    if not re.fullmatch(r"\d+", vals[-1]):
        raise ApiError(400, "invalid", "Invalid value at '%s' (TYPE_UINT32), \"%s\""
                       % (snake(name), vals[-1]), location=name, location_type="parameter")
    return int(vals[-1])


def _bool_param(query, name):
    vals = query.get(name)
    return bool(vals) and vals[-1].lower() in ("true", "1")


def page_token(i):
    return base64.urlsafe_b64encode(("p%d" % i).encode()).decode().rstrip("=")


def page_start(query):
    """The first row of the page asked for (pageToken, else startIndex)."""
    tok = (query.get("pageToken") or [None])[-1]
    if tok is None:
        return _int_param(query, "startIndex", 0)
    try:
        s = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode()
        if re.fullmatch(r"p\d+", s):
            return int(s[1:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(400, "invalid", "Invalid page token: %s" % tok, location="pageToken",
                   location_type="parameter")


def _etag():
    return secrets.token_urlsafe(16)


class Api:
    def __init__(self, store, discovery):
        self.store = store
        self.validator = BodyValidator(discovery["schemas"])
        self.routes = []
        resources = list(discovery["resources"].values())
        while resources:
            res = resources.pop()
            resources += res.get("resources", {}).values()
            for m in res.get("methods", {}).values():
                flat = m.get("flatPath") or m["path"]
                rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+?)", re.escape(flat)) + "$"
                self.routes.append((m["httpMethod"], re.compile(rx), flat, m))
        # most literal characters first, so fixed segments win over parameters
        self.routes.sort(key=lambda r: -len(re.sub(r"\{[^}]+\}", "", r[2])))
        self.handlers = {
            "bigquery.datasets.get": self.datasets_get,
            "bigquery.datasets.insert": self.datasets_insert,
            "bigquery.datasets.list": self.datasets_list,
            "bigquery.tables.get": self.tables_get,
            "bigquery.tables.insert": self.tables_insert,
            "bigquery.tables.list": self.tables_list,
            "bigquery.tables.patch": self.tables_patch,
            "bigquery.tables.update": self.tables_update,
            "bigquery.tabledata.insertAll": self.insert_all,
            "bigquery.tabledata.list": self.tabledata_list,
            "bigquery.jobs.query": self.jobs_query,
            "bigquery.jobs.insert": self.jobs_insert,
            "bigquery.jobs.getQueryResults": self.jobs_get_query_results,
        }
        self.insert_stats = {}
        self.clear_stats()

    def clear_stats(self):
        self.insert_stats.update(requests=0, rows_received=0, rows_inserted=0, rows_deduplicated=0,
                                 rows_invalid=0, rows_stopped=0)

    def match(self, http_method, rel_path):
        """(method description, [path params]), or (None, None) for an unknown URL."""
        for hm, rx, _flat, m in self.routes:
            mt = rx.match(rel_path)
            if mt and hm == http_method:
                return m, [urllib.parse.unquote(g) for g in mt.groups()]
        return None, None

    def call(self, m, params, query, body, base_url, if_match=None):
        handler = self.handlers.get(m["id"])
        if handler is None:
            raise ApiError(501, "notImplemented", "Method %s is not implemented by the local "
                           "BigQuery server" % m["id"])
        obj = None
        if "request" in m:
            if len(body) > MAX_PAYLOAD:
                raise ApiError(400, "invalid", "Request payload size exceeds the limit: %d bytes."
                               % MAX_PAYLOAD)
            obj = parse_json(body)
            if not isinstance(obj, dict):
                raise ApiError(400, "invalid", "Invalid JSON payload received. Expected an object.")
            try:
                self.validator.validate(obj, m["request"])
            except PayloadError as e:
                raise ApiError(400, "invalid", e.message, extra={"details": [{
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": e.field, "description": e.message}]}]})
        with self.store.lock:
            self.base_url = base_url  # safe: every call holds the store lock
            self.if_match = if_match
            return handler(params, query, obj)

    # ---- datasets ---------------------------------------------------------------
    def dataset_resource(self, ds):
        r = {"kind": "bigquery#dataset", "etag": _etag(),
             "id": "%s:%s" % (ds.project, ds.dataset_id),
             "selfLink": "%sprojects/%s/datasets/%s" % (self.base_url, ds.project, ds.dataset_id),
             "datasetReference": {"datasetId": ds.dataset_id, "projectId": ds.project},
             "access": [{"role": "OWNER", "specialGroup": "projectOwners"},
                        {"role": "READER", "specialGroup": "projectReaders"},
                        {"role": "WRITER", "specialGroup": "projectWriters"}],
             "location": "US"}
        r.update(ds.resource)
        r.update(creationTime=str(int(ds.created * 1000)), lastModifiedTime=str(int(ds.created * 1000)),
                 type="DEFAULT")
        return r

    def datasets_get(self, params, query, body):
        return 200, self.dataset_resource(self.store.dataset(*params))

    def datasets_list(self, params, query, body):
        (p,) = params
        items = sorted((d, ds) for (pp, d), ds in self.store.datasets.items() if pp == p)
        out = {"kind": "bigquery#datasetList", "etag": _etag()}
        if items:
            out["datasets"] = [{"kind": "bigquery#dataset", "id": "%s:%s" % (p, d),
                                "datasetReference": {"datasetId": d, "projectId": p},
                                "location": ds.resource.get("location", "US")} for d, ds in items]
        return 200, out

    def datasets_insert(self, params, query, body):
        (p,) = params
        ref = body.get("datasetReference") or {}
        d = ref.get("datasetId")
        if not d:
            raise ApiError(400, "invalid", "Required parameter is missing: datasetReference.datasetId")
        if ref.get("projectId") not in (None, p):
            raise ApiError(400, "invalid", "Project ID in the dataset reference (%s) does not match "
                           "the project in the request path (%s)" % (ref.get("projectId"), p))
        if not DATASET_ID_RE.match(d):
            raise ApiError(400, "invalid", "Invalid dataset ID \"%s\". Dataset IDs must be "
                           "alphanumeric (plus underscores) and must be at most 1024 characters "
                           "long." % d)
        if (p, d) in self.store.datasets:
            raise ApiError(409, "duplicate", "Already Exists: Dataset %s:%s" % (p, d))
        resource = {k: body[k] for k in ("description", "friendlyName", "labels", "location")
                    if k in body}
        return 200, self.dataset_resource(self.store.add_dataset(p, d, resource))

    # ---- tables -------------------------------------------------------------------
    def tables_get(self, params, query, body):
        return 200, table_resource(self.store, self.store.table(*params), self.base_url)

    def tables_list(self, params, query, body):
        p, d = params
        items = sorted(self.store.dataset(p, d).tables.items())
        out = {"kind": "bigquery#tableList", "etag": _etag(), "totalItems": len(items)}
        if items:
            out["tables"] = []
            for t, tb in items:
                e = {"kind": "bigquery#table", "id": "%s:%s.%s" % (p, d, t),
                     "tableReference": tb.ref(), "type": tb.kind,
                     "creationTime": str(int(tb.created * 1000))}
                e.update({k: tb.resource[k] for k in ("timePartitioning", "clustering", "labels")
                          if k in tb.resource})
                if tb.kind == "VIEW":
                    e["view"] = {"useLegacySql": False}
                out["tables"].append(e)
        return 200, out

    def tables_insert(self, params, query, body):
        p, d = params
        ds = self.store.dataset(p, d)
        ref = body.get("tableReference") or {}
        t = ref.get("tableId")
        if not t:
            raise ApiError(400, "invalid", "Required parameter is missing: tableReference.tableId")
        if ref.get("projectId") not in (None, p) or ref.get("datasetId") not in (None, d):
            raise ApiError(400, "invalid", "The table reference %s:%s.%s does not match the "
                           "request path %s:%s" % (ref.get("projectId"), ref.get("datasetId"), t, p, d))
        if not TABLE_ID_RE.match(t):
            raise ApiError(400, "invalid", "Invalid table ID \"%s\". Table IDs must be alphanumeric "
                           "(plus underscores) and must be at most 1024 characters long. Also, "
                           "Table decorators cannot be used." % t)
        if t in ds.tables:
            raise ApiError(409, "duplicate", "Already Exists: Table %s:%s.%s" % (p, d, t))
        tb = self.store.add_table(ds, t, self.check_table_body(p, d, t, body, None))
        return 200, table_resource(self.store, tb, self.base_url)

    def tables_patch(self, params, query, body):
        """PATCH: the fields given replace the table's, the others are kept."""
        p, d, t = params
        tb = self.store.table(p, d, t)
        self.check_if_match(tb)
        merged = dict(tb.resource)
        merged.pop("schema", None)
        merged.update(body)
        resource = dict(tb.resource)
        resource.update(self.check_table_body(p, d, t, merged, tb))
        self.store.update_table(tb, resource)
        return 200, table_resource(self.store, tb, self.base_url)

    def tables_update(self, params, query, body):
        """PUT: the body replaces the table's user-settable fields; the schema,
        partitioning and clustering are kept when left out (a schema given
        may change only as patch may change it)."""
        p, d, t = params
        tb = self.store.table(p, d, t)
        self.check_if_match(tb)
        merged = {k: tb.resource[k] for k in ("view", "timePartitioning", "clustering")
                  if k in tb.resource}
        merged.update(body)
        self.store.update_table(tb, self.check_table_body(p, d, t, merged, tb))
        return 200, table_resource(self.store, tb, self.base_url)

    def check_if_match(self, tb):
        """An If-Match header (google-cloud-bigquery's update_table sends the
        etag it read) must name the table's current etag, as in BigQuery."""
        if self.if_match not in (None, "", "*") and self.if_match != table_etag(tb):
            raise ApiError(412, "conditionNotMet", "Precondition check failed.")

    def check_table_body(self, p, d, t, body, old):
        """The stored (user-settable) part of a Table resource, validated; old: when patching."""
        resource = {k: body[k] for k in ("description", "friendlyName", "labels") if k in body}
        view = body.get("view")
        if view is not None:
            if old is None and (body.get("schema") or {}).get("fields"):
                raise ApiError(400, "invalid", "Schema field shouldn't be used as input with a view")
            if not view.get("query"):
                raise ApiError(400, "invalid", "Missing required field: view.query")
            if view.get("useLegacySql") is not False:
                raise ApiError(400, "invalid", "The local BigQuery server does not support legacy "
                               "SQL views: set view.useLegacySql to false (BigQuery's default for "
                               "views created through the API is legacy SQL)")
            try:
                fields = bqsql.view_schema(view["query"], p, self.store)
            except bqsql.SqlError as e:
                raise ApiError(400, "invalidQuery", e.message)
            resource["view"] = {"query": view["query"], "useLegacySql": False}
            resource["schema"] = {"fields": fields}
            return resource
        fields = old.fields if old is not None else []
        if body.get("schema") is not None:
            try:
                fields = bqtypes.check_schema(body["schema"].get("fields") or [])
            except bqtypes.SchemaError as e:
                raise ApiError(400, "invalid", str(e))
            if old is not None:
                self.check_schema_change(p, d, t, old.fields, fields)
        resource["schema"] = {"fields": fields}
        tp = body.get("timePartitioning")
        if tp is not None:
            if tp.get("type", "DAY") not in ("DAY", "HOUR", "MONTH", "YEAR"):
                raise ApiError(400, "invalid", "Invalid value for timePartitioning.type: %s" % tp["type"])
            if tp.get("field"):
                f = bqtypes.find_field(fields, tp["field"])
                if f is None:
                    raise ApiError(400, "invalid", "The field specified for partitioning cannot be "
                                   "found in the schema")
                if f["type"] != "TIMESTAMP":
                    raise ApiError(400, "invalid", "The field specified for time partitioning can "
                                   "only be of type TIMESTAMP, DATE or DATETIME. The type found is: "
                                   "%s." % f["type"])
            resource["timePartitioning"] = dict(tp, type=tp.get("type", "DAY"))
        cfields = (body.get("clustering") or {}).get("fields") or []
        if len(cfields) > 4:
            raise ApiError(400, "invalid", "Too many clustering fields: %d, only 4 are allowed."
                           % len(cfields))
        for name in cfields:
            f = bqtypes.find_field(fields, name)
            if f is None:
                raise ApiError(400, "invalid", "The field specified for clustering cannot be found "
                               "in the schema. Invalid field: %s." % name)
            if f["type"] == "FLOAT":
                raise ApiError(400, "invalid", "Field %s is of type FLOAT which is not supported "
                               "for clustering." % name)
        if cfields:
            resource["clustering"] = {"fields": list(cfields)}
        return resource

    @staticmethod
    def check_schema_change(p, d, t, old, new):
        """What tables.patch may do to a schema: add NULLABLE columns, relax REQUIRED."""
        def refuse(what):
            raise ApiError(400, "invalid", "Provided Schema does not match Table %s:%s.%s. %s"
                           % (p, d, t, what))
        newmap = {f["name"].lower(): f for f in new}
        for f in old:
            g = newmap.get(f["name"].lower())
            if g is None:
                refuse("Field %s is missing in new schema" % f["name"])
            if g["type"] != f["type"]:
                refuse("Field %s has changed type from %s to %s" % (f["name"], f["type"], g["type"]))
            if g["mode"] != f["mode"] and (f["mode"], g["mode"]) != ("REQUIRED", "NULLABLE"):
                refuse("Field %s has changed mode from %s to %s" % (f["name"], f["mode"], g["mode"]))
        oldnames = {f["name"].lower() for f in old}
        for g in new:
            if g["name"].lower() not in oldnames and g["mode"] == "REQUIRED":
                refuse("Cannot add required fields to an existing schema. (field: %s)" % g["name"])

    # ---- tabledata ------------------------------------------------------------------
    def insert_all(self, params, query, body):
        p, d, t = params
        st = self.insert_stats
        st["requests"] += 1
        tb = self.store.table(p, d, t)
        if tb.kind == "VIEW":
            raise ApiError(400, "invalid", "Cannot add rows to a table of type VIEW: %s:%s.%s" % (p, d, t))
        rows = body.get("rows")
        if not rows:
            raise ApiError(400, "invalid", "No rows present in the request.")
        if len(rows) > MAX_ROWS:
            raise ApiError(400, "invalid", "too many rows present in the request, limit: %d row "
                           "count: %d." % (MAX_ROWS, len(rows)))
        for i, r in enumerate(rows):
            if len(r.get("insertId") or "") > MAX_INSERT_ID:
                raise ApiError(400, "invalid", "The insertId of row %d is %d characters long; the "
                               "maximum is %d." % (i, len(r["insertId"]), MAX_INSERT_ID))
        if body.get("templateSuffix"):
            raise ApiError(501, "notImplemented", "templateSuffix is not modelled by the local "
                           "BigQuery server")
        st["rows_received"] += len(rows)
        fields = tb.fields
        plan = bqtypes.RowPlan(fields)
        ignore = bool(body.get("ignoreUnknownValues"))
        checked = [bqtypes.coerce_row(fields, r.get("json") or {}, ignore, plan) for r in rows]
        invalid = [i for i, (_, errs) in enumerate(checked) if errs]
        st["rows_invalid"] += len(invalid)
        out = {"kind": "bigquery#tableDataInsertAllResponse"}
        if invalid:
            # the invalid rows get their errors; without skipInvalidRows the others are "stopped"
            stopped = [] if body.get("skipInvalidRows") else [
                {"reason": "stopped", "location": "", "debugInfo": "", "message": ""}]
            out["insertErrors"] = [{"index": i, "errors": errs or stopped}
                                   for i, (_, errs) in enumerate(checked) if errs or stopped]
            if stopped:
                st["rows_stopped"] += len(rows) - len(invalid)
                return 200, out
        stored, dups = self.store.append_rows(tb, [(data, r.get("insertId")) for r, (data, errs)
                                                   in zip(rows, checked) if not errs])
        st["rows_inserted"] += stored
        st["rows_deduplicated"] += dups
        return 200, out

    def tabledata_list(self, params, query, body):
        tb = self.store.table(*params)
        if tb.kind == "VIEW":
            raise ApiError(400, "invalid", "Cannot list a table of type VIEW.")
        return 200, self.page_rows(tb.fields, [r.data for r in tb.rows], query,
                                   {"kind": "bigquery#tableDataList", "etag": _etag()})

    @staticmethod
    def page_rows(fields, rows, query, out):
        """out plus totalRows, the page's rows and the next pageToken."""
        start = page_start(query)
        end = start + _int_param(query, "maxResults", 100000)
        out["totalRows"] = str(len(rows))
        int64_ts = _bool_param(query, "formatOptions.useInt64Timestamp")
        if rows[start:end]:
            out["rows"] = [bqtypes.api_row(fields, r, int64_ts) for r in rows[start:end]]
        if end < len(rows):
            out["pageToken"] = page_token(end)
        return out

    # ---- jobs -------------------------------------------------------------------------
    def run_query(self, p, sql, use_legacy):
        """The result of one query (bqsql.run's dict, plus start and end times)."""
        if use_legacy is not False:
            raise ApiError(400, "invalidQuery", "Legacy SQL is not supported by the local BigQuery "
                           "server: send \"useLegacySql\": false (BigQuery's default is legacy SQL).",
                           location="q", location_type="parameter")
        if not sql or not sql.strip():
            raise ApiError(400, "invalid", "Required parameter is missing: query")
        start = self.store.now()
        try:
            res = bqsql.run(sql, p, self.store)
        except bqsql.SqlError as e:
            raise ApiError(400, "invalidQuery", e.message, location="q", location_type="parameter")
        except ApiError as e:
            e.location, e.location_type = "q", "parameter"
            raise
        res.update(start=start, end=self.store.now())
        return res

    def job_resource(self, p, job_id, job):
        res = job["result"] or {}
        ms = str(int(job["created"] * 1000))
        qstats = {"totalBytesProcessed": "0", "totalBytesBilled": "0", "cacheHit": False,
                  "statementType": res.get("statement_type", "SELECT")}
        if res.get("statement_type") == "SELECT":
            qstats["schema"] = {"fields": res["fields"]}
        r = {"kind": "bigquery#job", "etag": _etag(), "id": "%s:US.%s" % (p, job_id),
             "selfLink": "%sprojects/%s/jobs/%s?location=US" % (self.base_url, p, job_id),
             "configuration": job["configuration"],
             "jobReference": {"projectId": p, "jobId": job_id, "location": "US"},
             "statistics": {"creationTime": ms, "startTime": ms,
                            "endTime": str(int(res.get("end", job["created"]) * 1000)),
                            "totalBytesProcessed": "0", "query": qstats},
             "status": {"state": "DONE"}}
        err = job["error"]
        if err is not None:
            e = {"reason": err.reason, "message": err.message, "location": "query"}
            r["status"] = {"state": "DONE", "errorResult": e, "errors": [e]}
        return r

    def query_response(self, p, job_id, res, query, out):
        out["jobReference"] = {"projectId": p, "jobId": job_id, "location": "US"}
        if res["statement_type"] == "SELECT":
            out["schema"] = {"fields": res["fields"]}
            self.page_rows(res["fields"], res["rows"], query, out)
        else:
            out["numDmlAffectedRows"] = str(res["affected"])
        out.update(totalBytesProcessed="0", jobComplete=True, cacheHit=False)
        return out

    def jobs_query(self, params, query, body):
        (p,) = params
        job_id = "job_" + secrets.token_urlsafe(21).replace("-", "_")
        created = self.store.now()
        res = self.run_query(p, body.get("query"), body.get("useLegacySql"))
        self.store.add_job(p, job_id, {"created": created, "result": res, "error": None,
                                       "configuration": {"jobType": "QUERY", "query": {
                                           "query": body["query"], "useLegacySql": False}}})
        page = {"formatOptions.useInt64Timestamp": [str((body.get("formatOptions") or {})
                                                        .get("useInt64Timestamp", False))]}
        if body.get("maxResults") is not None:
            page["maxResults"] = [str(body["maxResults"])]
        return 200, self.query_response(p, job_id, res, page,
                                        {"kind": "bigquery#queryResponse", "queryId": job_id})

    def jobs_insert(self, params, query, body):
        (p,) = params
        conf = body.get("configuration") or {}
        job_id = (body.get("jobReference") or {}).get("jobId") or \
            "job_" + secrets.token_urlsafe(21).replace("-", "_")
        if not JOB_ID_RE.match(job_id):
            raise ApiError(400, "invalid", "Invalid job ID \"%s\". Job IDs must be alphanumeric "
                           "(plus underscores and dashes) and must be at most 1024 characters long."
                           % job_id)
        if (p, job_id) in self.store.jobs:
            raise ApiError(409, "duplicate", "Already Exists: Job %s:US.%s" % (p, job_id))
        qc = conf.get("query")
        if not qc or qc.get("destinationTable") or conf.get("dryRun"):
            raise ApiError(501, "notImplemented", "The local BigQuery server models query jobs "
                           "only, without destinationTable or dryRun")
        job = {"configuration": dict(conf, jobType="QUERY"), "created": self.store.now(),
               "result": None, "error": None}
        try:
            job["result"] = self.run_query(p, qc.get("query"), qc.get("useLegacySql"))
        except ApiError as e:
            job["error"] = e
        self.store.add_job(p, job_id, job)
        return 200, self.job_resource(p, job_id, job)

    def jobs_get_query_results(self, params, query, body):
        p, job_id = params
        job = self.store.jobs.get((p, job_id))
        if job is None:
            raise not_found("Job", "%s:%s" % (p, job_id), False)
        if job["error"] is not None:
            raise job["error"]
        return 200, self.query_response(p, job_id, job["result"], query,
                                        {"kind": "bigquery#getQueryResultsResponse", "etag": _etag()})
