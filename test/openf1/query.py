"""test/openf1/query.py — OpenF1's query-string filters, for the local OpenF1 server.

A query string is split on `&`; each part is URL-decoded, then split on its
first operator (`<=`, `>=`, `=`, `<`, `>`) into field, operator and value.
`csv=true` is not a filter.  Repeated `f=v` on one field is OR; bounds (`<`,
`>`, `<=`, `>=`) AND with each other and with the equalities; fields AND.

Comparison (as OpenF1 does): a field whose record value is a number compares as
a number (bools: `true`/`false`); a date field (a TS column of endpoints.c, or a
value that reads as ISO 8601) compares as an instant, with or without offset or
fraction (no offset: UTC); a bare `YYYY-MM-DD` after `>` means from the next
day.  Anything else compares as text.  A null, an array or a value of another
type never matches.  `session_key=latest` / `meeting_key=latest` are resolved
by the caller (Filter.latest lists them).
"""
import datetime
import re
import urllib.parse

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OPS = ("<=", ">=", "=", "<", ">")


def to_us(text):
    """Microseconds since the epoch of an ISO 8601 string, or None if it is not one."""
    if not isinstance(text, str) or len(text) < 10 or not text[:4].isdigit():
        return None
    try:
        d = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return (d - EPOCH) // datetime.timedelta(microseconds=1)


def iso(us):
    """The API's date text of microseconds since the epoch."""
    d = EPOCH + datetime.timedelta(microseconds=us)
    return d.isoformat()


def split_part(part):
    """(field, op, value) of one decoded `&` part, or None when it has no operator."""
    best = None
    for i, ch in enumerate(part):
        if ch in "<>=":
            best = i
            break
    if best is None:
        return None
    op = part[best]
    if op in "<>" and part[best + 1:best + 2] == "=":
        op += "="
    return part[:best], op, part[best + len(op):]


class Cond:
    """One field's conditions: eq (OR of values) and bounds (AND of (op, value))."""
    __slots__ = ("field", "eq", "bounds")

    def __init__(self, field):
        self.field = field
        self.eq = []
        self.bounds = []


class Filter:
    """The parsed query: conds {field: Cond}, csv flag, latest (fields asking for it)."""

    def __init__(self, raw_query):
        self.conds = {}
        self.csv = False
        self.latest = set()
        for part in raw_query.split("&"):
            if not part:
                continue
            got = split_part(urllib.parse.unquote_plus(part))
            if got is None:
                continue
            field, op, value = got
            if field == "csv" and op == "=":
                self.csv = value.lower() == "true"
                continue
            c = self.conds.setdefault(field, Cond(field))
            if op == "=":
                if value == "latest" and field in ("session_key", "meeting_key"):
                    self.latest.add(field)
                c.eq.append(value)
            else:
                c.bounds.append((op, value))

    def resolve_latest(self, field, key):
        """Replace `latest` in field's equalities by key (None: nothing matches)."""
        c = self.conds[field]
        c.eq = [("\0none" if key is None else str(key)) if v == "latest" else v for v in c.eq]

    def int_eq(self, field):
        """The equality values of field as ints, when field has only equalities that
        are all integers; else None (the caller cannot use its index)."""
        c = self.conds.get(field)
        if c is None or c.bounds or not c.eq:
            return None
        try:
            return [int(v) for v in c.eq]
        except ValueError:
            return None


def _cmp(op, a, b):
    if op == "=":
        return a == b
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    return a >= b


def date_bound(op, value):
    """The instant (us) a date filter value stands for, and the op to use."""
    if BARE_DATE.match(value):
        us = to_us(value + "T00:00:00+00:00")
        if op == ">":  # OpenF1: a bare date after > means from the next day
            return ">=", us + 86400 * 1000000
        return op, us
    return op, to_us(value)


class Pred:
    """A compiled condition on one field: matches(record_value) -> bool."""

    def __init__(self, cond, is_date):
        self.field = cond.field
        self.is_date = is_date
        self.eq = cond.eq
        self.bounds = cond.bounds
        self.date_eq = None
        self.date_bounds = None
        if is_date:
            self.date_eq = [u for u in (date_bound("=", v)[1] for v in cond.eq) if u is not None] \
                if cond.eq else None
            self.date_bounds = [date_bound(op, v) for op, v in cond.bounds]

    def match_us(self, us):
        """For a date field whose record value is us microseconds (None: null)."""
        if us is None:
            return False
        if self.date_eq is not None and us not in self.date_eq:
            return False
        for op, b in self.date_bounds:
            if b is None or not _cmp(op, us, b):
                return False
        return True

    def match(self, v):
        if v is None or isinstance(v, list):
            return False
        if self.is_date:
            return self.match_us(to_us(v))
        if self.eq and not any(_match_one("=", v, s) for s in self.eq):
            return False
        return all(_match_one(op, v, s) for op, s in self.bounds)


def _match_one(op, v, s):
    if isinstance(v, bool):
        if s.lower() not in ("true", "false"):
            return False
        return _cmp(op, v, s.lower() == "true")
    if isinstance(v, (int, float)):
        try:
            return _cmp(op, v, float(s) if ("." in s or "e" in s.lower()) else int(s))
        except ValueError:
            return False
    if isinstance(v, str):
        us = to_us(v)
        if us is not None:       # a date in a field endpoints.c does not type as one
            op2, b = date_bound(op, s)
            if b is not None:
                return _cmp(op2, us, b)
        return _cmp(op, v, s)
    return False
