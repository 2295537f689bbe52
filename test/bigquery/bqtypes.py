"""BigQuery column types for the local BigQuery server.

- check_schema(): validate a TableSchema given to tables.insert (names, types,
  modes, RECORD fields) the way BigQuery refuses bad schemas;
- coerce_row(): turn one insertAll row (JSON) into stored values following
  the table schema, collecting BigQuery-style per-row errors
  ({"reason": "invalid", "location": field, "message": ...});
- api_value(): a stored value as tabledata.list / query results return it
  (every scalar as a string, {"f": [{"v": ...}]} for RECORDs, [{"v": ...}]
  for REPEATED);
- typed(): a stored value as the SQL evaluator compares it.

Stored values are JSON-serialisable: INTEGER int, FLOAT float, NUMERIC and
BIGNUMERIC canonical decimal strings, BOOLEAN bool, STRING str, TIMESTAMP int
microseconds since the epoch (UTC), DATE "YYYY-MM-DD", DATETIME
"YYYY-MM-DDTHH:MM:SS[.ffffff]", TIME "HH:MM:SS[.ffffff]", BYTES base64 text,
JSON compact JSON text, RECORD dict, REPEATED list.
"""

import base64
import binascii
import calendar
import datetime
import decimal
import json
import math
import re

# type name (as tables.insert may give it) -> canonical legacy name BigQuery reports
TYPE_ALIASES = {
    "STRING": "STRING", "BYTES": "BYTES",
    "INTEGER": "INTEGER", "INT64": "INTEGER",
    "FLOAT": "FLOAT", "FLOAT64": "FLOAT",
    "NUMERIC": "NUMERIC", "DECIMAL": "NUMERIC",
    "BIGNUMERIC": "BIGNUMERIC", "BIGDECIMAL": "BIGNUMERIC",
    "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "TIME": "TIME", "DATETIME": "DATETIME",
    "GEOGRAPHY": "GEOGRAPHY", "JSON": "JSON",
    "RECORD": "RECORD", "STRUCT": "RECORD",
}
MODES = ("NULLABLE", "REQUIRED", "REPEATED")
FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class SchemaError(ValueError):
    """A schema BigQuery would refuse (HTTP 400 invalid)."""


def canonical_type(t):
    return TYPE_ALIASES.get(str(t or "").upper())


def check_schema(fields, path=""):
    """Validate and normalise a list of TableFieldSchema; returns a new list."""
    if not isinstance(fields, list):
        raise SchemaError("Schema fields must be a list.")
    out = []
    seen = set()
    for f in fields:
        if not isinstance(f, dict):
            raise SchemaError("Each schema field must be an object.")
        name = f.get("name")
        if not isinstance(name, str) or not FIELD_NAME_RE.match(name):
            raise SchemaError(
                "Invalid field name \"%s\". Fields must contain only letters, numbers, and "
                "underscores, start with a letter or underscore, and be at most 300 characters "
                "long." % (name,))
        if name.lower() in seen:
            raise SchemaError("Field %s already exists in schema" % (path + name))
        seen.add(name.lower())
        raw_type = f.get("type")
        t = canonical_type(raw_type)
        if t is None:
            raise SchemaError("Invalid value for type: %s is not a valid value" % (raw_type,))
        mode = str(f.get("mode") or "NULLABLE").upper()
        if mode not in MODES:
            raise SchemaError("Invalid value for mode: %s is not a valid value" % (f.get("mode"),))
        g = dict(f)
        g["name"] = name
        g["type"] = t
        g["mode"] = mode
        if t == "RECORD":
            sub = f.get("fields")
            if not sub:
                raise SchemaError("Field %s is type RECORD but has no schema" % (path + name))
            g["fields"] = check_schema(sub, path + name + ".")
        elif f.get("fields"):
            raise SchemaError("Field %s is type %s and cannot have sub-fields" % (path + name, t))
        out.append(g)
    return out


def find_field(fields, name):
    """Top-level field by name, case-insensitively (BigQuery column names are)."""
    low = name.lower()
    for f in fields:
        if f["name"].lower() == low:
            return f
    return None


# ---- parsing of values --------------------------------------------------------

class BadValue(ValueError):
    pass


_TS_RE = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$", re.I)
_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _check_date(y, m, d):
    try:
        datetime.date(y, m, d)
    except ValueError:
        raise BadValue("bad date")
    if y < 1:
        raise BadValue("bad date")


def parse_timestamp(v):
    """Microseconds since the epoch from a JSON value, or BadValue."""
    if isinstance(v, bool):
        raise BadValue("bool")
    if isinstance(v, (int, float, decimal.Decimal)):
        try:
            micros = int(decimal.Decimal(v) * 1000000)
        except (decimal.InvalidOperation, ValueError, OverflowError):
            raise BadValue("number")
        return _ts_range(micros)
    if not isinstance(v, str):
        raise BadValue("type")
    s = v.strip()
    if _NUM_RE.match(s):
        try:
            return _ts_range(int(decimal.Decimal(s) * 1000000))
        except decimal.InvalidOperation:
            raise BadValue("number")
    m = _TS_RE.match(s)
    if not m:
        raise BadValue("format")
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    _check_date(y, mo, d)
    hh = int(m.group(4) or 0)
    mi = int(m.group(5) or 0)
    ss = int(m.group(6) or 0)
    if hh > 23 or mi > 59 or ss > 60:
        raise BadValue("time")
    frac = (m.group(7) or "")[:6].ljust(6, "0")
    days = calendar.timegm((y, mo, d, 0, 0, 0)) // 86400 if y >= 1970 else \
        (datetime.date(y, mo, d) - datetime.date(1970, 1, 1)).days
    secs = days * 86400 + hh * 3600 + mi * 60 + ss
    tz = (m.group(8) or "").upper()
    if tz and tz not in ("Z", "UTC"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        if len(digits) <= 2:
            oh, om = int(digits), 0
        else:
            oh, om = int(digits[:-2]), int(digits[-2:])
        if oh > 14 or om > 59:
            raise BadValue("zone")
        secs -= sign * (oh * 3600 + om * 60)
    return _ts_range(secs * 1000000 + int(frac))


_TS_MIN = -62135596800 * 1000000          # 0001-01-01 00:00:00
_TS_MAX = 253402300799 * 1000000 + 999999  # 9999-12-31 23:59:59.999999


def _ts_range(micros):
    if micros < _TS_MIN or micros > _TS_MAX:
        raise BadValue("range")
    return micros


def parse_date(v):
    if not isinstance(v, str):
        raise BadValue("type")
    m = _DATE_RE.match(v.strip())
    if not m:
        raise BadValue("format")
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    _check_date(y, mo, d)
    return "%04d-%02d-%02d" % (y, mo, d)


def parse_datetime(v):
    if not isinstance(v, str):
        raise BadValue("type")
    m = _DATETIME_RE.match(v.strip())
    if not m:
        raise BadValue("format")
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    _check_date(y, mo, d)
    hh, mi, ss = int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0)
    if hh > 23 or mi > 59 or ss > 59:
        raise BadValue("time")
    out = "%04d-%02d-%02dT%02d:%02d:%02d" % (y, mo, d, hh, mi, ss)
    if m.group(7):
        out += "." + m.group(7).ljust(6, "0")
    return out


def parse_time(v):
    if not isinstance(v, str):
        raise BadValue("type")
    m = _TIME_RE.match(v.strip())
    if not m:
        raise BadValue("format")
    hh, mi, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if hh > 23 or mi > 59 or ss > 59:
        raise BadValue("time")
    out = "%02d:%02d:%02d" % (hh, mi, ss)
    if m.group(4):
        out += "." + m.group(4).ljust(6, "0")
    return out


def _numeric(v, big):
    if isinstance(v, bool):
        raise BadValue("bool")
    if isinstance(v, str):
        if not _NUM_RE.match(v.strip()):
            raise BadValue("format")
        v = v.strip()
    try:
        d = decimal.Decimal(v) if not isinstance(v, float) else decimal.Decimal(repr(v))
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise BadValue("format")
    if not d.is_finite():
        raise BadValue("format")
    scale = 38 if big else 9
    intdigits = 38 if big else 29
    q = d.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP,
                   context=decimal.Context(prec=200))
    if q != d:
        raise BadValue("scale")
    if abs(q) >= decimal.Decimal(10) ** intdigits:
        raise BadValue("range")
    return canonical_decimal(q)


def canonical_decimal(d):
    d = d.normalize(context=decimal.Context(prec=200))
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s


def _msg_for(t, v):
    shown = v if isinstance(v, str) else json.dumps(v, default=str)
    if t == "INTEGER":
        return "Cannot convert value to integer (bad value): %s" % shown
    if t == "FLOAT":
        return "Cannot convert value to floating point (bad value): %s" % shown
    if t == "BOOLEAN":
        return "Cannot convert value to boolean (bad value): %s" % shown
    if t == "TIMESTAMP":
        return ("Could not parse '%s' as a timestamp. Required format is "
                "YYYY-MM-DD HH:MM[:SS[.SSSSSS]] or YYYY/MM/DD HH:MM[:SS[.SSSSSS]]" % shown)
    if t == "DATE":
        return "Could not parse '%s' as a date. Required format is YYYY-MM-DD" % shown
    if t == "DATETIME":
        return "Could not parse '%s' as a datetime. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]]" % shown
    if t == "TIME":
        return "Could not parse '%s' as a time. Required format is HH:MM[:SS[.SSSSSS]]" % shown
    if t in ("NUMERIC", "BIGNUMERIC"):
        return "Invalid %s value: %s" % (t, shown)
    if t == "BYTES":
        return "Could not decode base64 bytes value: %s" % shown
    if t == "STRING":
        return "Cannot convert value to string: %s" % shown
    return "Invalid %s value: %s" % (t, shown)


def coerce_scalar(t, v):
    """Stored form of a non-null JSON value v for column type t, or BadValue."""
    if t == "STRING" or t == "GEOGRAPHY":
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, decimal.Decimal):
            return str(v)
        raise BadValue("type")
    if t == "INTEGER":
        if isinstance(v, bool):
            raise BadValue("bool")
        if isinstance(v, int):
            n = v
        elif isinstance(v, str) and _INT_RE.match(v.strip()):
            n = int(v.strip())
        else:
            raise BadValue("type")
        if n < INT64_MIN or n > INT64_MAX:
            raise BadValue("range")
        return n
    if t == "FLOAT":
        if isinstance(v, bool):
            raise BadValue("bool")
        if isinstance(v, (int, decimal.Decimal, float)):
            x = float(v)
            if math.isinf(x):
                raise BadValue("range")
            return x
        if isinstance(v, str):
            s = v.strip()
            if s in ("NaN", "Infinity", "-Infinity", "+Infinity", "inf", "-inf", "+inf"):
                return float(s.replace("Infinity", "inf"))
            if _NUM_RE.match(s):
                return float(s)
        raise BadValue("type")
    if t in ("NUMERIC", "BIGNUMERIC"):
        return _numeric(v, t == "BIGNUMERIC")
    if t == "BOOLEAN":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
        raise BadValue("type")
    if t == "TIMESTAMP":
        return parse_timestamp(v)
    if t == "DATE":
        return parse_date(v)
    if t == "DATETIME":
        return parse_datetime(v)
    if t == "TIME":
        return parse_time(v)
    if t == "BYTES":
        if not isinstance(v, str):
            raise BadValue("type")
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            try:
                base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
            except (binascii.Error, ValueError):
                raise BadValue("base64")
        return v
    if t == "JSON":
        if isinstance(v, str):
            try:
                json.loads(v)
                return v
            except ValueError:
                raise BadValue("json")
        return json.dumps(v, separators=(",", ":"), default=_json_default)
    raise BadValue("type")


def _json_default(o):
    if isinstance(o, decimal.Decimal):
        return float(o) if o != o.to_integral_value() else int(o)
    raise TypeError


def coerce_row(fields, obj, ignore_unknown, path=""):
    """(stored dict, [error dicts]) for one row object against the schema."""
    errors = []
    out = {}
    byname = {f["name"].lower(): f for f in fields}
    given = {}
    for k, v in obj.items():
        f = byname.get(k.lower())
        if f is None:
            if not ignore_unknown:
                errors.append(_err(path + k, "no such field."))
            continue
        if f["name"].lower() in given:
            errors.append(_err(path + k, "Duplicate field name %s" % k))
            continue
        given[f["name"].lower()] = v
    for f in fields:
        name = f["name"]
        loc = path + name
        v = given.get(name.lower())
        mode = f.get("mode", "NULLABLE")
        if v is None:
            if mode == "REQUIRED":
                errors.append(_err(loc, "Missing required field: %s." % loc))
            elif mode == "REPEATED":
                out[name] = []
            else:
                out[name] = None
            continue
        if mode == "REPEATED":
            if not isinstance(v, list):
                errors.append(_err(loc, "This field: %s is a repeated field but a non-array "
                                        "value was given." % loc))
                continue
            items = []
            for i, item in enumerate(v):
                if item is None:
                    errors.append(_err(loc, "Array field %s contains a null element." % loc))
                    continue
                val, errs = _coerce_one(f, item, ignore_unknown, loc)
                errors.extend(errs)
                items.append(val)
            out[name] = items
        else:
            if isinstance(v, list):
                errors.append(_err(loc, "Array specified for non-repeated field: %s." % loc))
                continue
            val, errs = _coerce_one(f, v, ignore_unknown, loc)
            errors.extend(errs)
            out[name] = val
    return out, errors


def _coerce_one(f, v, ignore_unknown, loc):
    t = f["type"]
    if t == "RECORD":
        if not isinstance(v, dict):
            return None, [_err(loc, "This field: %s is not a record." % loc)]
        return coerce_row(f["fields"], v, ignore_unknown, loc + ".")
    if isinstance(v, (dict, list)) and t != "JSON":
        return None, [_err(loc, "This field: %s is not a record." % loc if isinstance(v, dict)
                           else _msg_for(t, v))]
    try:
        return coerce_scalar(t, v), []
    except BadValue:
        return None, [_err(loc, _msg_for(t, v))]


def _err(location, message, reason="invalid"):
    return {"reason": reason, "location": location, "debugInfo": "", "message": message}


# ---- output ------------------------------------------------------------------

def java_double(x):
    """A float as Java's Double.toString writes it (BigQuery's FLOAT/TIMESTAMP text)."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    d = decimal.Decimal(repr(abs(x)))
    digits = d.as_tuple().digits
    exp = d.as_tuple().exponent
    # strip trailing zeros of the digit string
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    ds = "".join(str(c) for c in digits)
    sci = len(ds) - 1 + exp  # exponent of the leading digit
    a = abs(x)
    if 1e-3 <= a < 1e7:
        if sci >= 0:
            intpart = ds[:sci + 1].ljust(sci + 1, "0")
            frac = ds[sci + 1:] or "0"
        else:
            intpart = "0"
            frac = "0" * (-sci - 1) + ds
        return sign + intpart + "." + frac
    mant = ds[0] + "." + (ds[1:] or "0")
    return sign + mant + "E" + str(sci)


def timestamp_text(micros, int64=False):
    if int64:
        return str(micros)
    secs = decimal.Decimal(micros) / decimal.Decimal(1000000)
    return java_double(float(secs))


def timestamp_iso(micros):
    """'YYYY-MM-DD HH:MM:SS[.ffffff] UTC' as BigQuery's SQL formats it."""
    dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=micros)
    s = dt.strftime("%Y-%m-%d %H:%M:%S")
    if dt.microsecond:
        s += (".%06d" % dt.microsecond).rstrip("0")
    return s + " UTC"


def api_value(field, v, int64_ts=False):
    """A stored value in the {"f":[{"v":...}]} wire shape."""
    if v is None:
        return None
    if field.get("mode") == "REPEATED":
        return [{"v": _api_scalar(field, x, int64_ts)} for x in v]
    return _api_scalar(field, v, int64_ts)


def _api_scalar(field, v, int64_ts):
    if v is None:
        return None
    t = field["type"]
    if t == "RECORD":
        return {"f": [{"v": api_value(sf, v.get(sf["name"]), int64_ts)} for sf in field["fields"]]}
    if t == "TIMESTAMP":
        return timestamp_text(int(v), int64_ts)
    if t == "FLOAT":
        return java_double(float(v))
    if t == "BOOLEAN":
        return "true" if v else "false"
    return str(v)


def api_row(fields, row, int64_ts=False):
    return {"f": [{"v": api_value(f, row.get(f["name"]), int64_ts)} for f in fields]}


def row_bytes(fields, row):
    """A rough size of a stored row, for numBytes."""
    return len(json.dumps(row, default=str))
