"""The BigQuery REST v2 methods of the local server (no HTTP here).

Routes come from Google's discovery document (each method's flatPath), so a
real method this server does not model answers 501 UNIMPLEMENTED and an
unknown URL answers Google's HTML 404.  Request bodies are checked against the
method's request schema in the discovery document, as Google's front end
does: an unknown field anywhere is a 400 "Invalid JSON payload received.
Unknown name ...", a wrong JSON type a 400 "Invalid value at ...".

Modelled: projects.list; datasets get/insert/list/delete/patch/update;
tables get/insert/list/delete/patch/update (schemas, timePartitioning,
clustering, views); tabledata insertAll/list; jobs query/insert (query jobs
only)/get/getQueryResults/list/cancel.  Api.call() returns (status, JSON
object or None for 204) and raises store.ApiError for refusals.
"""

import base64
import decimal
import json
import re
import secrets
import urllib.parse

import bqsql
import bqtypes
from store import ApiError, StoreCatalog, not_found_table, table_resource

MAX_PAYLOAD = 10485760
MAX_ROWS = 50000
MAX_INSERT_ID = 128
DATASET_ID_RE = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
TABLE_ID_RE = re.compile(r"^[\w\- $]{1,1024}$", re.U)
JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")

PROTO_TYPES = {"boolean": "TYPE_BOOL", "string": "TYPE_STRING", "integer": "TYPE_INT32",
               "number": "TYPE_DOUBLE", "object": "TYPE_MESSAGE", "array": "TYPE_MESSAGE"}


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class PayloadError(Exception):
    def __init__(self, message, field=None):
        Exception.__init__(self, message)
        self.message = message
        self.field = field


def _shown(v):
    return json.dumps(v, default=str)


class BodyValidator:
    """Checks a JSON body against a discovery schema, the way ESF does."""

    def __init__(self, schemas):
        self.schemas = schemas
        self.names = {}

    def _props(self, sid, schema):
        key = sid or id(schema)
        if key not in self.names:
            m = {}
            for k in schema.get("properties", {}):
                m[k] = k
                m.setdefault(snake(k), k)
            self.names[key] = m
        return self.names[key]

    def validate(self, value, schema, path=""):
        sid = None
        if "$ref" in schema:
            sid = schema["$ref"]
            schema = self.schemas[sid]
        if value is None:
            return
        t = schema.get("type")
        if t == "any":
            return
        if t == "object":
            if not isinstance(value, dict):
                if path:
                    raise PayloadError("Invalid value at '%s' (%s), %s"
                                       % (path, "type.googleapis.com/google.protobuf.Struct"
                                          if "additionalProperties" in schema else "TYPE_MESSAGE",
                                          _shown(value)), path)
                raise PayloadError("Invalid JSON payload received. Expected an object.")
            props = schema.get("properties")
            addl = schema.get("additionalProperties")
            if props is not None:
                names = self._props(sid, schema)
                for k, v in value.items():
                    real = names.get(k)
                    if real is None:
                        if addl is not None:
                            self.validate(v, addl, "%s[%s]" % (path, k) if path else k)
                            continue
                        where = (" at '%s'" % path) if path else ""
                        raise PayloadError("Invalid JSON payload received. Unknown name \"%s\"%s: "
                                           "Cannot find field." % (k, where), (path + "." + k) if path else k)
                    sub = snake(real)
                    self.validate(v, props[real], (path + "." + sub) if path else sub)
            elif addl is not None:
                for k, v in value.items():
                    self.validate(v, addl, "%s[%s]" % (path, k) if path else k)
            return
        if t == "array":
            if not isinstance(value, list):
                raise PayloadError("Invalid value at '%s' (%s), %s"
                                   % (path, PROTO_TYPES.get((schema.get("items") or {}).get("type"),
                                                            "TYPE_MESSAGE"), _shown(value)), path)
            items = schema.get("items") or {"type": "any"}
            for i, v in enumerate(value):
                self.validate(v, items, "%s[%d]" % (path, i))
            return
        fmt = schema.get("format")
        if t == "boolean":
            if not isinstance(value, bool):
                raise PayloadError("Invalid value at '%s' (TYPE_BOOL), %s" % (path, _shown(value)), path)
            return
        if t == "string":
            if isinstance(value, str):
                return
            if fmt in ("int64", "uint64") and isinstance(value, (int, decimal.Decimal)) \
                    and not isinstance(value, bool) and value == int(value):
                return
            proto = {"int64": "TYPE_INT64", "uint64": "TYPE_UINT64", "byte": "TYPE_BYTES"}.get(fmt, "TYPE_STRING")
            raise PayloadError("Invalid value at '%s' (%s), %s" % (path, proto, _shown(value)), path)
        if t == "integer":
            ok = (isinstance(value, int) and not isinstance(value, bool)) or \
                (isinstance(value, decimal.Decimal) and value == value.to_integral_value()) or \
                (isinstance(value, str) and re.fullmatch(r"-?\d+", value))
            if not ok:
                raise PayloadError("Invalid value at '%s' (%s), %s"
                                   % (path, "TYPE_UINT32" if fmt == "uint32" else "TYPE_INT32",
                                      _shown(value)), path)
            return
        if t == "number":
            ok = (isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)) or \
                (isinstance(value, str) and (value in ("NaN", "Infinity", "-Infinity")
                                             or re.fullmatch(r"-?\d+(\.\d*)?([eE][+-]?\d+)?", value)))
            if not ok:
                raise PayloadError("Invalid value at '%s' (TYPE_DOUBLE), %s" % (path, _shown(value)), path)
            return


def _reject_constant(name):
    raise ValueError("Invalid JSON payload received. Unexpected token.\n%s\n^" % name)


def parse_json(body):
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid", "Invalid JSON payload received. Invalid UTF-8.")
    try:
        return json.loads(text, parse_float=decimal.Decimal, parse_constant=_reject_constant)
    except ValueError as e:
        msg = str(e)
        if not msg.startswith("Invalid JSON payload"):
            msg = "Invalid JSON payload received. %s" % msg
        raise ApiError(400, "invalid", msg)


def _int_param(query, name, default=None, minimum=0):
    vals = query.get(name)
    if not vals:
        return default
    try:
        v = int(vals[-1])
    except ValueError:
        raise ApiError(400, "invalid", "Invalid value at '%s' (TYPE_UINT32), \"%s\""
                       % (snake(name), vals[-1]), location=name, location_type="parameter")
    if v < minimum:
        raise ApiError(400, "invalid", "Invalid value at '%s', %d" % (snake(name), v),
                       location=name, location_type="parameter")
    return v


def _bool_param(query, name):
    vals = query.get(name)
    return bool(vals) and vals[-1].lower() in ("true", "1")


def page_token(i):
    return base64.urlsafe_b64encode(("p%d" % i).encode()).decode().rstrip("=")


def from_page_token(tok):
    try:
        s = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode()
        if s.startswith("p"):
            return int(s[1:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(400, "invalid", "Invalid page token: %s" % tok, location="pageToken",
                   location_type="parameter")


def _etag():
    return secrets.token_urlsafe(16)


class Api:
    def __init__(self, store, discovery, auth_email="local-user@example.com"):
        self.store = store
        self.discovery = discovery
        self.validator = BodyValidator(discovery["schemas"])
        self.auth_email = auth_email
        self.routes = []
        for rname, res in discovery["resources"].items():
            self._add_routes(res)
        # most literal characters first, so fixed segments win over parameters
        self.routes.sort(key=lambda r: -len(re.sub(r"\{[^}]+\}", "", r[2])))
        self.handlers = {
            "bigquery.projects.list": self.projects_list,
            "bigquery.datasets.get": self.datasets_get,
            "bigquery.datasets.insert": self.datasets_insert,
            "bigquery.datasets.list": self.datasets_list,
            "bigquery.datasets.delete": self.datasets_delete,
            "bigquery.datasets.patch": self.datasets_patch,
            "bigquery.datasets.update": self.datasets_patch,
            "bigquery.tables.get": self.tables_get,
            "bigquery.tables.insert": self.tables_insert,
            "bigquery.tables.list": self.tables_list,
            "bigquery.tables.delete": self.tables_delete,
            "bigquery.tables.patch": self.tables_patch,
            "bigquery.tables.update": self.tables_patch,
            "bigquery.tabledata.insertAll": self.insert_all,
            "bigquery.tabledata.list": self.tabledata_list,
            "bigquery.jobs.query": self.jobs_query,
            "bigquery.jobs.insert": self.jobs_insert,
            "bigquery.jobs.get": self.jobs_get,
            "bigquery.jobs.getQueryResults": self.jobs_get_query_results,
            "bigquery.jobs.list": self.jobs_list,
            "bigquery.jobs.cancel": self.jobs_cancel,
        }
        self.insert_stats = {"requests": 0, "rows_received": 0, "rows_inserted": 0,
                             "rows_deduplicated": 0, "rows_invalid": 0, "rows_stopped": 0}

    def _add_routes(self, res):
        for m in res.get("methods", {}).values():
            flat = m.get("flatPath") or m["path"]
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+?)", re.escape(flat)) + "$"
            self.routes.append((m["httpMethod"], re.compile(rx), flat, m))
        for sub in res.get("resources", {}).values():
            self._add_routes(sub)

    def match(self, http_method, rel_path):
        """(method description, [path params]) or (None, None) / ("wrong-method", None)."""
        path_ok = False
        for hm, rx, _flat, m in self.routes:
            mt = rx.match(rel_path)
            if mt:
                if hm == http_method:
                    return m, [urllib.parse.unquote(g) for g in mt.groups()]
                path_ok = True
        return ("wrong-method" if path_ok else None), None

    def call(self, m, params, query, body, base_url, context):
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
            try:
                self.validator.validate(obj, m["request"])
            except PayloadError as e:
                raise ApiError(400, "invalid", e.message, extra={"details": [{
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": e.field or "", "description": e.message}]}]})
            if not isinstance(obj, dict):
                raise ApiError(400, "invalid", "Invalid JSON payload received. Expected an object.")
        with self.store.lock:
            # per-call attributes: safe because every call holds the store lock
            self.base_url = base_url
            self.context = context
            return handler(params, query, obj)

    # ---- projects ---------------------------------------------------------------
    def projects_list(self, params, query, body):
        names = set(self.store.projects) | {p for (p, _d) in self.store.datasets}
        projects = [{"kind": "bigquery#project", "id": p, "numericId": str(100000 + i),
                     "projectReference": {"projectId": p}, "friendlyName": p}
                    for i, p in enumerate(sorted(names))]
        out = {"kind": "bigquery#projectList", "etag": _etag(), "totalItems": len(projects)}
        if projects:
            out["projects"] = projects
        return 200, out

    # ---- datasets ---------------------------------------------------------------
    def dataset_resource(self, ds):
        r = {"kind": "bigquery#dataset", "etag": _etag(),
             "id": "%s:%s" % (ds.project, ds.dataset_id),
             "selfLink": "%sprojects/%s/datasets/%s" % (self.base_url, ds.project, ds.dataset_id),
             "datasetReference": {"datasetId": ds.dataset_id, "projectId": ds.project},
             "access": [{"role": "OWNER", "specialGroup": "projectOwners"},
                        {"role": "OWNER", "userByEmail": self.auth_email},
                        {"role": "READER", "specialGroup": "projectReaders"},
                        {"role": "WRITER", "specialGroup": "projectWriters"}]}
        r.update(ds.resource)
        r["creationTime"] = str(int(ds.created * 1000))
        r["lastModifiedTime"] = str(int(ds.modified * 1000))
        r.setdefault("location", "US")
        r["type"] = "DEFAULT"
        return r

    def datasets_get(self, params, query, body):
        p, d = params
        return 200, self.dataset_resource(self.store.dataset(p, d))

    def datasets_list(self, params, query, body):
        (p,) = params
        self.store.check_project(p)
        items = sorted((d, ds) for (pp, d), ds in self.store.datasets.items() if pp == p)
        start = from_page_token(query["pageToken"][-1]) if query.get("pageToken") else 0
        n = _int_param(query, "maxResults", 1000) or 1000
        page = items[start:start + n]
        out = {"kind": "bigquery#datasetList", "etag": _etag()}
        if page:
            out["datasets"] = [{"kind": "bigquery#dataset", "id": "%s:%s" % (p, d),
                                "datasetReference": {"datasetId": d, "projectId": p},
                                "location": ds.resource.get("location", "US")} for d, ds in page]
        if start + n < len(items):
            out["nextPageToken"] = page_token(start + n)
        return 200, out

    def datasets_insert(self, params, query, body):
        (p,) = params
        self.store.check_project(p)
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
        resource = {k: v for k, v in body.items()
                    if k in ("description", "friendlyName", "labels", "location",
                             "defaultTableExpirationMs", "defaultPartitionExpirationMs")}
        ds = self.store.add_dataset(p, d, _plain(resource))
        return 200, self.dataset_resource(ds)

    def datasets_patch(self, params, query, body):
        p, d = params
        ds = self.store.dataset(p, d)
        resource = dict(ds.resource)
        for k in ("description", "friendlyName", "labels", "defaultTableExpirationMs",
                  "defaultPartitionExpirationMs"):
            if k in body:
                resource[k] = _plain(body[k])
        self.store.update_dataset(ds, resource)
        return 200, self.dataset_resource(ds)

    def datasets_delete(self, params, query, body):
        p, d = params
        ds = self.store.dataset(p, d)
        if ds.tables and not _bool_param(query, "deleteContents"):
            raise ApiError(400, "resourceInUse", "Dataset %s:%s is still in use" % (p, d))
        self.store.drop_dataset(p, d)
        return 204, None

    # ---- tables -------------------------------------------------------------------
    def tables_get(self, params, query, body):
        p, d, t = params
        return 200, table_resource(self.store, self.store.table(p, d, t), self.base_url)

    def tables_list(self, params, query, body):
        p, d = params
        ds = self.store.dataset(p, d)
        items = sorted(ds.tables.items())
        start = from_page_token(query["pageToken"][-1]) if query.get("pageToken") else 0
        n = _int_param(query, "maxResults", 1000) or 1000
        page = items[start:start + n]
        out = {"kind": "bigquery#tableList", "etag": _etag(), "totalItems": len(items)}
        if page:
            out["tables"] = []
            for t, tb in page:
                e = {"kind": "bigquery#table", "id": "%s:%s.%s" % (p, d, t),
                     "tableReference": tb.ref(), "type": tb.kind,
                     "creationTime": str(int(tb.created * 1000))}
                for k in ("timePartitioning", "clustering", "labels", "friendlyName"):
                    if k in tb.resource:
                        e[k] = tb.resource[k]
                if tb.kind == "VIEW":
                    e["view"] = {"useLegacySql": False}
                out["tables"].append(e)
        if start + n < len(items):
            out["nextPageToken"] = page_token(start + n)
        return 200, out

    def tables_delete(self, params, query, body):
        p, d, t = params
        tb = self.store.table(p, d, t)
        self.store.drop_table(tb)
        return 204, None

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
        resource = self.check_table_body(p, d, t, body, None)
        tb = self.store.add_table(ds, t, resource)
        return 200, table_resource(self.store, tb, self.base_url)

    def check_table_body(self, p, d, t, body, old):
        """The stored (user-settable) part of a Table resource, validated."""
        resource = {}
        for k in ("description", "friendlyName", "labels", "expirationTime", "requirePartitionFilter"):
            if k in body:
                resource[k] = _plain(body[k])
        view = body.get("view")
        if view is not None:
            if body.get("schema") and (body["schema"].get("fields")):
                if old is None:
                    raise ApiError(400, "invalid", "Schema field shouldn't be used as input with a view")
            q = view.get("query")
            if not q:
                raise ApiError(400, "invalid", "Missing required field: view.query")
            if view.get("useLegacySql") is not False:
                raise ApiError(400, "invalid", "The local BigQuery server does not support legacy "
                               "SQL views: set view.useLegacySql to false (BigQuery's default for "
                               "views created through the API is legacy SQL)")
            fields = self.view_fields(p, q)
            resource["view"] = {"query": q, "useLegacySql": False}
            resource["schema"] = {"fields": fields}
            return resource
        schema = body.get("schema")
        fields = []
        if schema is not None:
            try:
                fields = bqtypes.check_schema(_plain(schema.get("fields") or []))
            except bqtypes.SchemaError as e:
                raise ApiError(400, "invalid", str(e))
        if old is not None:
            fields = self.check_schema_change(p, d, t, old.fields, fields) if schema is not None \
                else old.fields
        resource["schema"] = {"fields": fields}
        tp = body.get("timePartitioning")
        if tp is not None:
            tp = _plain(tp)
            ptype = tp.get("type", "DAY")
            if ptype not in ("DAY", "HOUR", "MONTH", "YEAR"):
                raise ApiError(400, "invalid", "Invalid value for timePartitioning.type: %s" % ptype)
            field = tp.get("field")
            if field:
                f = bqtypes.find_field(fields, field)
                if f is None:
                    raise ApiError(400, "invalid", "The field specified for partitioning cannot be "
                                   "found in the schema")
                if f["type"] not in ("TIMESTAMP", "DATE", "DATETIME") or f["mode"] == "REPEATED":
                    raise ApiError(400, "invalid", "The field specified for time partitioning can "
                                   "only be of type TIMESTAMP, DATE or DATETIME. The type found is: "
                                   "%s." % f["type"])
            tp["type"] = ptype
            resource["timePartitioning"] = tp
        rp = body.get("rangePartitioning")
        if rp is not None:
            rp = _plain(rp)
            f = bqtypes.find_field(fields, rp.get("field") or "")
            if f is None or f["type"] != "INTEGER":
                raise ApiError(400, "invalid", "The field specified for range partitioning must be "
                               "a top-level INTEGER field")
            resource["rangePartitioning"] = rp
        cl = body.get("clustering")
        if cl is not None:
            cfields = cl.get("fields") or []
            if len(cfields) > 4:
                raise ApiError(400, "invalid", "Too many clustering fields: %d, only 4 are allowed."
                               % len(cfields))
            for name in cfields:
                f = bqtypes.find_field(fields, name)
                if f is None:
                    raise ApiError(400, "invalid", "The field specified for clustering cannot be "
                                   "found in the schema. Invalid field: %s." % name)
                if f["mode"] == "REPEATED" or f["type"] in ("RECORD", "FLOAT", "JSON"):
                    raise ApiError(400, "invalid", "Field %s is of type %s%s which is not supported "
                                   "for clustering." % (name, f["type"],
                                                        " (REPEATED)" if f["mode"] == "REPEATED" else ""))
            if cfields:
                resource["clustering"] = {"fields": list(cfields)}
        return resource

    def check_schema_change(self, p, d, t, old, new, prefix=""):
        oldmap = {f["name"].lower(): f for f in old}
        newmap = {f["name"].lower(): f for f in new}
        for name, f in oldmap.items():
            g = newmap.get(name)
            if g is None:
                raise ApiError(400, "invalid", "Provided Schema does not match Table %s:%s.%s. "
                               "Field %s is missing in new schema" % (p, d, t, prefix + f["name"]))
            if g["type"] != f["type"]:
                raise ApiError(400, "invalid", "Provided Schema does not match Table %s:%s.%s. "
                               "Field %s has changed type from %s to %s"
                               % (p, d, t, prefix + f["name"], f["type"], g["type"]))
            if g["mode"] != f["mode"] and not (f["mode"] == "REQUIRED" and g["mode"] == "NULLABLE"):
                raise ApiError(400, "invalid", "Provided Schema does not match Table %s:%s.%s. "
                               "Field %s has changed mode from %s to %s"
                               % (p, d, t, prefix + f["name"], f["mode"], g["mode"]))
            if f["type"] == "RECORD":
                self.check_schema_change(p, d, t, f["fields"], g["fields"], prefix + f["name"] + ".")
        for name, g in newmap.items():
            if name not in oldmap and g["mode"] == "REQUIRED":
                raise ApiError(400, "invalid", "Provided Schema does not match Table %s:%s.%s. "
                               "Cannot add required fields to an existing schema. (field: %s)"
                               % (p, d, t, prefix + g["name"]))
        return new

    def tables_patch(self, params, query, body):
        p, d, t = params
        tb = self.store.table(p, d, t)
        merged = dict(tb.resource)
        if "view" in tb.resource and "view" not in body:
            body = dict(body, view=tb.resource["view"])
        new = self.check_table_body(p, d, t, dict({k: v for k, v in tb.resource.items()
                                                    if k != "schema"}, **body), tb)
        merged.update(new)
        self.store.update_table(tb, merged)
        return 200, table_resource(self.store, tb, self.base_url)

    def view_fields(self, p, q):
        eng = bqsql.Engine(StoreCatalog(self.store), p, None, {}, None)
        try:
            fields, _ = eng.view_schema(q)
        except bqsql.SqlError as e:
            raise ApiError(e.status, e.reason, e.message)
        return fields

    # ---- tabledata ------------------------------------------------------------------
    def insert_all(self, params, query, body):
        p, d, t = params
        st = self.insert_stats
        st["requests"] += 1
        tb = self.store.table(p, d, t)
        if tb.kind == "VIEW":
            raise ApiError(400, "invalid", "Cannot add rows to a table of type VIEW: %s:%s.%s" % (p, d, t))
        if self.store.new_table_404 and self.store.now() - tb.created < self.store.new_table_404:
            raise not_found_table(p, d, t)
        rows = body.get("rows")
        if not rows:
            raise ApiError(400, "invalid", "No rows present in the request.")
        if len(rows) > MAX_ROWS:
            raise ApiError(400, "invalid", "too many rows present in the request, limit: %d row "
                           "count: %d." % (MAX_ROWS, len(rows)))
        for i, r in enumerate(rows):
            iid = r.get("insertId") if isinstance(r, dict) else None
            if iid is not None and len(iid) > MAX_INSERT_ID:
                raise ApiError(400, "invalid", "The insertId of row %d is %d characters long; the "
                               "maximum is %d." % (i, len(iid), MAX_INSERT_ID))
        suffix = body.get("templateSuffix")
        if suffix:
            target_name = t + suffix
            ds = self.store.dataset(p, d)
            target = ds.tables.get(target_name)
            if target is None:
                target = self.store.add_table(ds, target_name, {"schema": {"fields": tb.fields}})
            tb = target
        st["rows_received"] += len(rows)
        ignore_unknown = bool(body.get("ignoreUnknownValues"))
        skip_invalid = bool(body.get("skipInvalidRows"))
        fault = self.context.get("insert_errors") if self.context else None
        fault_rows = set()
        if fault:
            idx = fault.get("indexes")
            fault_rows = set(range(len(rows))) if idx is None else set(idx)
        coerced = []
        errors = {}
        for i, r in enumerate(rows):
            data, errs = bqtypes.coerce_row(tb.fields, r.get("json") or {}, ignore_unknown)
            if errs:
                errors[i] = errs
            coerced.append((data, r.get("insertId")))
        insert_errors = []
        to_store = []
        if errors and not skip_invalid:
            for i in range(len(rows)):
                if i in errors:
                    insert_errors.append({"index": i, "errors": errors[i]})
                else:
                    insert_errors.append({"index": i, "errors": [
                        {"reason": "stopped", "location": "", "debugInfo": "", "message": ""}]})
            st["rows_invalid"] += len(errors)
            st["rows_stopped"] += len(rows) - len(errors)
        else:
            for i in range(len(rows)):
                if i in errors:
                    insert_errors.append({"index": i, "errors": errors[i]})
                elif i in fault_rows:
                    insert_errors.append({"index": i, "errors": [{
                        "reason": fault.get("reason", "backendError"), "location": "",
                        "debugInfo": "", "message": fault.get("message", "")}]})
                else:
                    to_store.append(coerced[i])
            st["rows_invalid"] += len(errors)
        stored, dups = self.store.append_rows(tb, to_store) if to_store else (0, 0)
        st["rows_inserted"] += stored
        st["rows_deduplicated"] += dups
        out = {"kind": "bigquery#tableDataInsertAllResponse"}
        if insert_errors:
            out["insertErrors"] = insert_errors
        return 200, out

    def tabledata_list(self, params, query, body):
        p, d, t = params
        tb = self.store.table(p, d, t)
        if tb.kind == "VIEW":
            raise ApiError(400, "invalid", "Cannot list a table of type VIEW.")
        fields = tb.fields
        sel = query.get("selectedFields")
        if sel:
            wanted = [s.strip().lower() for s in sel[-1].split(",") if s.strip()]
            for w in wanted:
                if bqtypes.find_field(fields, w.split(".")[0]) is None:
                    raise ApiError(400, "invalid", "The field %s in selectedFields does not exist "
                                   "in the table schema" % w)
            tops = {w.split(".")[0] for w in wanted}
            fields = [f for f in fields if f["name"].lower() in tops]
        int64_ts = _bool_param(query, "formatOptions.useInt64Timestamp")
        rows = [r.data for r in tb.rows]
        return 200, self.page_rows(fields, rows, query, "bigquery#tableDataList", int64_ts,
                                   token_key="pageToken")

    def page_rows(self, fields, rows, query, kind, int64_ts, token_key):
        total = len(rows)
        if query.get("pageToken"):
            start = from_page_token(query["pageToken"][-1])
        else:
            start = _int_param(query, "startIndex", 0)
        n = _int_param(query, "maxResults", None)
        if n is None:
            n = 100000
        page = rows[start:start + n]
        out = {"kind": kind, "etag": _etag(), "totalRows": str(total)}
        if page:
            out["rows"] = [bqtypes.api_row(fields, r, int64_ts) for r in page]
        if start + n < total:
            out[token_key] = page_token(start + n)
        return out

    # ---- jobs -------------------------------------------------------------------------
    def run_query(self, p, job_id, sql, use_legacy, default_dataset, params_list, parameter_mode,
                  dry_run=False):
        """A stored job dict: resource pieces, result fields/rows or the error."""
        if use_legacy is not False:
            raise ApiError(400, "invalidQuery", "Legacy SQL is not supported by the local BigQuery "
                           "server: send \"useLegacySql\": false (BigQuery's default is legacy SQL).",
                           location="q", location_type="parameter")
        if not sql or not sql.strip():
            raise ApiError(400, "invalid", "Required parameter is missing: query")
        dd = None
        if default_dataset:
            dd = (default_dataset.get("projectId") or p, default_dataset.get("datasetId"))
        try:
            qparams = bqsql.parse_params(params_list, parameter_mode)
        except bqsql.SqlError as e:
            raise ApiError(e.status, e.reason, e.message, location="q", location_type="parameter")
        eng = bqsql.Engine(StoreCatalog(self.store), p, dd, qparams, int(self.store.now() * 1e6))
        start = self.store.now()
        if dry_run:
            try:
                stmt = bqsql.Parser(sql, qparams).statement()
                fields = []
                if stmt.kind == "select":
                    eng.sql = sql
                    fields, _ = eng.query(stmt, schema_only=True)
            except bqsql.SqlError as e:
                raise ApiError(e.status, e.reason, e.message, location="q", location_type="parameter")
            return {"statement_type": "SELECT" if stmt.kind == "select" else stmt.kind.upper(),
                    "fields": fields, "rows": [], "start": start, "end": start, "dry_run": True}
        try:
            res = eng.run(sql)
        except bqsql.SqlError as e:
            raise ApiError(e.status, e.reason, e.message, location="q", location_type="parameter")
        except ApiError as e:
            if e.location is None:
                e.location, e.location_type = "q", "parameter"
            raise
        res["start"] = start
        res["end"] = self.store.now()
        return res

    def job_resource(self, p, job_id, job):
        res = job.get("result") or {}
        stats = {"creationTime": str(int(job["created"] * 1000)),
                 "startTime": str(int(job["created"] * 1000)),
                 "totalBytesProcessed": "0"}
        if job.get("error") is None or res:
            stats["endTime"] = str(int(res.get("end", job["created"]) * 1000))
        qstats = {"totalBytesProcessed": "0", "totalBytesBilled": "0", "cacheHit": False,
                  "billingTier": 1, "totalSlotMs": "0",
                  "statementType": res.get("statement_type", "SELECT")}
        if res.get("fields") is not None and res.get("statement_type") == "SELECT":
            qstats["schema"] = {"fields": res["fields"]}
        self._dml_ddl_stats(res, qstats)
        stats["query"] = qstats
        r = {"kind": "bigquery#job", "etag": _etag(),
             "id": "%s:US.%s" % (p, job_id),
             "selfLink": "%sprojects/%s/jobs/%s?location=US" % (self.base_url, p, job_id),
             "user_email": self.auth_email,
             "configuration": job["configuration"],
             "jobReference": {"projectId": p, "jobId": job_id, "location": "US"},
             "statistics": stats,
             "status": {"state": "DONE"}}
        err = job.get("error")
        if err is not None:
            e = {"reason": err.reason, "message": err.message}
            if err.location:
                e["location"] = "query"
            r["status"] = {"state": "DONE", "errorResult": e, "errors": [e]}
        return r

    def _dml_ddl_stats(self, res, out):
        st = res.get("statement_type")
        if st in ("DELETE", "TRUNCATE_TABLE"):
            out["numDmlAffectedRows"] = str(res.get("affected", 0))
            out["dmlStats"] = {"deletedRowCount": str(res.get("affected", 0))}
        if res.get("ddl_op"):
            out["ddlOperationPerformed"] = res["ddl_op"]
        if res.get("target") and st != "DELETE":
            p, d, t = res["target"]
            out["ddlTargetTable"] = {"projectId": p, "datasetId": d, "tableId": t}

    def new_job_id(self):
        return "job_" + secrets.token_urlsafe(21).replace("-", "_")

    def jobs_query(self, params, query, body):
        (p,) = params
        self.store.check_project(p)
        job_id = self.new_job_id()
        created = self.store.now()
        res = self.run_query(p, job_id, body.get("query"), body.get("useLegacySql"),
                             body.get("defaultDataset"), body.get("queryParameters"),
                             body.get("parameterMode"), bool(body.get("dryRun")))
        conf = {"query": {"query": body.get("query"), "useLegacySql": False}, "jobType": "QUERY"}
        if body.get("dryRun"):
            conf["dryRun"] = True
        job = {"configuration": conf, "created": created, "result": res, "error": None}
        if not body.get("dryRun"):
            self.store.add_job(p, job_id, job)
        return 200, self.query_response(p, job_id, res, {"maxResults": [str(body["maxResults"])]}
                                        if body.get("maxResults") is not None else {},
                                        "bigquery#queryResponse",
                                        bool((body.get("formatOptions") or {}).get("useInt64Timestamp")))

    def query_response(self, p, job_id, res, query, kind, int64_ts):
        out = {"kind": kind, "etag": _etag()} if kind == "bigquery#getQueryResultsResponse" \
            else {"kind": kind}
        out["jobReference"] = {"projectId": p, "jobId": job_id, "location": "US"}
        if res.get("statement_type") == "SELECT":
            out["schema"] = {"fields": res["fields"]}
            paged = self.page_rows(res["fields"], res["rows"], query, kind, int64_ts, "pageToken")
            out["totalRows"] = paged["totalRows"]
            if "rows" in paged:
                out["rows"] = paged["rows"]
            if "pageToken" in paged:
                out["pageToken"] = paged["pageToken"]
        else:
            self._dml_ddl_stats(res, out)
            out.pop("ddlOperationPerformed", None)
            out.pop("ddlTargetTable", None)
            out.pop("dmlStats", None) if kind == "bigquery#getQueryResultsResponse" else None
        out["totalBytesProcessed"] = "0"
        out["jobComplete"] = True
        out["cacheHit"] = False
        if kind == "bigquery#queryResponse":
            out["queryId"] = job_id
        return out

    def jobs_insert(self, params, query, body):
        (p,) = params
        self.store.check_project(p)
        conf = body.get("configuration") or {}
        ref = body.get("jobReference") or {}
        job_id = ref.get("jobId") or self.new_job_id()
        if not JOB_ID_RE.match(job_id):
            raise ApiError(400, "invalid", "Invalid job ID \"%s\". Job IDs must be alphanumeric "
                           "(plus underscores and dashes) and must be at most 1024 characters long."
                           % job_id)
        if (p, job_id) in self.store.jobs:
            raise ApiError(409, "duplicate", "Already Exists: Job %s:US.%s" % (p, job_id))
        for other in ("load", "copy", "extract"):
            if other in conf:
                raise ApiError(501, "notImplemented", "%s jobs are not supported by the local "
                               "BigQuery server (only query jobs)" % other)
        qc = conf.get("query")
        if not qc:
            raise ApiError(400, "invalid", "Required parameter is missing: configuration.query")
        if qc.get("destinationTable"):
            raise ApiError(501, "notImplemented", "query jobs with a destinationTable are not "
                           "supported by the local BigQuery server")
        created = self.store.now()
        stored_conf = _plain(dict(conf))
        stored_conf["jobType"] = "QUERY"
        job = {"configuration": stored_conf, "created": created, "result": None, "error": None}
        try:
            job["result"] = self.run_query(p, job_id, qc.get("query"), qc.get("useLegacySql"),
                                           qc.get("defaultDataset"), qc.get("queryParameters"),
                                           qc.get("parameterMode"), bool(conf.get("dryRun")))
        except ApiError as e:
            job["error"] = e
        if not conf.get("dryRun"):
            self.store.add_job(p, job_id, job)
        return 200, self.job_resource(p, job_id, job)

    def _job(self, p, job_id):
        self.store.check_project(p)
        job = self.store.jobs.get((p, job_id))
        if job is None:
            raise ApiError(404, "notFound", "Not found: Job %s:%s" % (p, job_id))
        return job

    def jobs_get(self, params, query, body):
        p, job_id = params
        return 200, self.job_resource(p, job_id, self._job(p, job_id))

    def jobs_cancel(self, params, query, body):
        p, job_id = params
        return 200, {"kind": "bigquery#jobCancelResponse",
                     "job": self.job_resource(p, job_id, self._job(p, job_id))}

    def jobs_list(self, params, query, body):
        (p,) = params
        self.store.check_project(p)
        jobs = [(jid, self.store.jobs[(pp, jid)]) for (pp, jid) in reversed(self.store.job_order)
                if pp == p and (pp, jid) in self.store.jobs]
        n = _int_param(query, "maxResults", 50) or 50
        start = from_page_token(query["pageToken"][-1]) if query.get("pageToken") else 0
        page = jobs[start:start + n]
        out = {"kind": "bigquery#jobList", "etag": _etag(), "jobs": []}
        for jid, job in page:
            r = self.job_resource(p, jid, job)
            r.pop("selfLink", None)
            r["state"] = "DONE"
            if job.get("error") is not None:
                r["errorResult"] = r["status"]["errorResult"]
            out["jobs"].append(r)
        if start + n < len(jobs):
            out["nextPageToken"] = page_token(start + n)
        return 200, out

    def jobs_get_query_results(self, params, query, body):
        p, job_id = params
        job = self._job(p, job_id)
        if job.get("error") is not None:
            raise job["error"]
        return 200, self.query_response(p, job_id, job["result"], query,
                                        "bigquery#getQueryResultsResponse",
                                        _bool_param(query, "formatOptions.useInt64Timestamp"))


def _plain(v):
    """Decimals (from parsing request bodies) back to int/float for storing as JSON."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() and "." not in str(v) and "E" not in str(v).upper() \
            else float(v)
    return v
