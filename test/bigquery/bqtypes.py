"""BigQuery column types for the local BigQuery server.

Only the types its users declare are modelled: INTEGER/INT64, FLOAT/FLOAT64,
STRING, BOOLEAN/BOOL and TIMESTAMP (the sink's tables, `bq mk --table`, the
tests' schemas), in modes NULLABLE and REQUIRED.  A schema with any other type
or mode is refused with a 400 that says so, rather than modelled wrongly.

- check_schema(): validate a TableSchema given to tables.insert/patch the way
  BigQuery refuses bad schemas (names, duplicates, types, modes);
- coerce_row(): one insertAll row (JSON) -> stored values, with BigQuery's
  per-row errors ({"reason": "invalid", "location": field, "message": ...});
- api_row(): a stored row as tabledata.list and query results return it,
  {"f": [{"v": ...}]} with every value a string (FLOAT and TIMESTAMP written
  like Java's Double.toString, as BigQuery does: "91.0", "1.6949520005E9").

Stored values: INTEGER int, FLOAT float, STRING str, BOOLEAN bool, TIMESTAMP
int microseconds since the epoch (UTC).
"""

import datetime
import decimal
import functools
import json
import math
import re

# type name as tables.insert may give it -> the legacy name BigQuery reports
TYPE_ALIASES = {"STRING": "STRING", "INTEGER": "INTEGER", "INT64": "INTEGER",
                "FLOAT": "FLOAT", "FLOAT64": "FLOAT", "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
                "TIMESTAMP": "TIMESTAMP"}
MODES = ("NULLABLE", "REQUIRED")
FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class SchemaError(ValueError):
    """A schema BigQuery would refuse, or one this server does not model (HTTP 400)."""


def check_schema(fields):
    """Validate and normalise a list of TableFieldSchema; returns a new list."""
    if not isinstance(fields, list):
        raise SchemaError("Schema fields must be a list.")
    out = []
    seen = set()
    for f in fields:
        name = f.get("name") if isinstance(f, dict) else None
        if not isinstance(name, str) or not FIELD_NAME_RE.match(name):
            raise SchemaError(
                "Invalid field name \"%s\". Fields must contain only letters, numbers, and "
                "underscores, start with a letter or underscore, and be at most 300 characters "
                "long." % (name,))
        if name.lower() in seen:
            raise SchemaError("Field %s already exists in schema" % name)
        seen.add(name.lower())
        raw = str(f.get("type") or "").upper()
        mode = str(f.get("mode") or "NULLABLE").upper()
        if raw in ("NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL", "BYTES", "DATE", "DATETIME",
                   "TIME", "GEOGRAPHY", "JSON", "RECORD", "STRUCT", "RANGE", "INTERVAL") \
                or mode == "REPEATED":
            raise SchemaError("Field %s: %s is not modelled by the local BigQuery server (only "
                              "INTEGER, FLOAT, STRING, BOOLEAN and TIMESTAMP, NULLABLE or REQUIRED)"
                              % (name, mode if mode == "REPEATED" else raw))
        if raw not in TYPE_ALIASES:
            raise SchemaError("Invalid value for type: %s is not a valid value" % (f.get("type"),))
        if mode not in MODES:
            raise SchemaError("Invalid value for mode: %s is not a valid value" % (f.get("mode"),))
        out.append(dict(f, name=name, type=TYPE_ALIASES[raw], mode=mode))
    return out


def find_field(fields, name):
    """A field by name, case-insensitively (BigQuery column names are)."""
    for f in fields:
        if f["name"].lower() == name.lower():
            return f
    return None


# ---- values in ------------------------------------------------------------------

class BadValue(ValueError):
    pass


_TS_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})"
                    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
                    r"\s*(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$", re.I)
_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_TS_MIN, _TS_MAX = -62135596800 * 1000000, 253402300799 * 1000000 + 999999  # years 1 .. 9999


def parse_timestamp(v):
    """Microseconds since the epoch from a JSON value: 'YYYY-MM-DD[ T]HH:MM[:SS[.f]]' with an
    optional zone (Z, UTC, +HH[:MM]), or epoch seconds (a number or a numeric string)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise BadValue("type")
    return _timestamp_text(v.strip() if isinstance(v, str) else repr(v))


@functools.lru_cache(maxsize=4096)  # rows of a request often share a timestamp (updated_at)
def _timestamp_text(s):
    if _NUM_RE.match(s):
        micros = int(decimal.Decimal(s) * 1000000)
    else:
        m = _TS_RE.match(s)
        if not m:
            raise BadValue("format")
        g = m.groups()
        y, mo, d = int(g[0]), int(g[1]), int(g[2])
        hh, mi, ss = int(g[3] or 0), int(g[4] or 0), int(g[5] or 0)
        if hh > 23 or mi > 59 or ss > 59:
            raise BadValue("out of range")
        try:  # the calendar's checks (month, day of month, year 1..9999) and the day number
            days = datetime.date(y, mo, d).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            raise BadValue("out of range")
        secs = days * 86400 + hh * 3600 + mi * 60 + ss
        tz = (g[7] or "").upper()
        if tz not in ("", "Z", "UTC"):
            digits = tz[1:].replace(":", "")
            oh, om = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
            if oh > 14 or om > 59:
                raise BadValue("zone")
            secs -= (1 if tz[0] == "+" else -1) * (oh * 3600 + om * 60)
        micros = secs * 1000000 + (int(g[6][:6].ljust(6, "0")) if g[6] else 0)
    if not _TS_MIN <= micros <= _TS_MAX:
        raise BadValue("range")
    return micros


def coerce_scalar(t, v):
    """Stored form of a non-null JSON value v for column type t, or BadValue."""
    if t == "STRING":
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
    elif t == "INTEGER":
        if isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v):
            v = int(v)
        if isinstance(v, int) and not isinstance(v, bool):
            if not INT64_MIN <= v <= INT64_MAX:
                raise BadValue("range")
            return v
    elif t == "FLOAT":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        if isinstance(v, str) and (v.strip() in ("NaN", "Infinity", "-Infinity")
                                   or _NUM_RE.match(v.strip())):
            return float(v.strip().replace("Infinity", "inf"))
    elif t == "BOOLEAN":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
    elif t == "TIMESTAMP":
        return parse_timestamp(v)
    raise BadValue("type")


MESSAGES = {
    "INTEGER": "Cannot convert value to integer (bad value): %s",
    "FLOAT": "Cannot convert value to floating point (bad value): %s",
    "BOOLEAN": "Cannot convert value to boolean (bad value): %s",
    "STRING": "Cannot convert value to string: %s",
    "TIMESTAMP": "Could not parse '%s' as a timestamp. Required format is "
                 "YYYY-MM-DD HH:MM[:SS[.SSSSSS]] or YYYY/MM/DD HH:MM[:SS[.SSSSSS]]",
}


def _err(location, message):
    return {"reason": "invalid", "location": location, "debugInfo": "", "message": message}


class RowPlan:
    """What coerce_row needs of a schema, built once per insertAll request."""
    __slots__ = ("byname", "exact", "cols")

    def __init__(self, fields):
        self.byname = {f["name"].lower(): f for f in fields}
        self.exact = frozenset(f["name"] for f in fields)
        self.cols = [(f["name"], f["type"], f["mode"] == "REQUIRED") for f in fields]


# the common, valid cases, as coerce_scalar() would return them (a shortcut, not a rule)
_FAST = {("STRING", str), ("FLOAT", float), ("BOOLEAN", bool)}


def coerce_row(fields, obj, ignore_unknown, plan=None):
    """(stored dict, [error dicts]) for one row object against the schema
    (plan: RowPlan(fields), given when many rows share the schema)."""
    errors = []
    if plan is None:
        plan = RowPlan(fields)
    if plan.exact.issuperset(obj):  # every key a column's exact name
        given = obj
    else:
        given = {}
        for k, v in obj.items():
            f = plan.byname.get(k.lower())
            if f is not None:
                given[f["name"]] = v
            elif not ignore_unknown:
                errors.append(_err(k, "no such field."))
    out = {}
    for name, t, required in plan.cols:
        v = given.get(name)
        if v is None:
            out[name] = None
            if required:
                errors.append(_err(name, "Missing required field: %s." % name))
            continue
        tv = type(v)
        if (t, tv) in _FAST:
            out[name] = v
        elif tv is int and t == "INTEGER" and INT64_MIN <= v <= INT64_MAX:
            out[name] = v
        elif tv is list:
            out[name] = None
            errors.append(_err(name, "Array specified for non-repeated field: %s." % name))
        elif tv is dict:
            out[name] = None
            errors.append(_err(name, "This field: %s is not a record." % name))
        else:
            try:
                out[name] = coerce_scalar(t, v)
            except BadValue:
                out[name] = None
                errors.append(_err(name, MESSAGES[t] % (v if isinstance(v, str) else json.dumps(v))))
    return out, errors


# ---- values out -----------------------------------------------------------------

def java_double(x):
    """A float as Java's Double.toString writes it (BigQuery's FLOAT/TIMESTAMP text)."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    t = decimal.Decimal(repr(abs(x))).normalize().as_tuple()
    ds = "".join(str(c) for c in t.digits)
    sci = len(ds) - 1 + t.exponent  # exponent of the leading digit
    if 1e-3 <= abs(x) < 1e7:
        if sci >= 0:
            return sign + ds[:sci + 1].ljust(sci + 1, "0") + "." + (ds[sci + 1:] or "0")
        return sign + "0." + "0" * (-sci - 1) + ds
    return sign + ds[0] + "." + (ds[1:] or "0") + "E" + str(sci)


def api_value(field, v, int64_ts=False):
    """A stored value in the {"v": ...} wire shape: a string, or null."""
    if v is None:
        return None
    t = field["type"]
    if t == "TIMESTAMP":
        return str(v) if int64_ts else java_double(float(decimal.Decimal(v) / 1000000))
    if t == "FLOAT":
        return java_double(float(v))
    if t == "BOOLEAN":
        return "true" if v else "false"
    return str(v)


def api_row(fields, row, int64_ts=False):
    return {"f": [{"v": api_value(f, row.get(f["name"]), int64_ts)} for f in fields]}
