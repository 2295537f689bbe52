"""A small GoogleSQL subset for the local BigQuery server (jobs.query / jobs.insert).

It parses and evaluates the statements f1tel's sink, its tests and `bq` send,
and refuses anything else with HTTP 400 "query shape not supported by the local
server: ...".  Supported (keywords case-insensitive, `backtick` paths, table
names `p.d.t`, `d.t`, or `t` with the request's defaultDataset):

  SELECT [DISTINCT] items FROM table_or_view_or_(subquery) [[AS] alias]
         [WHERE e] [GROUP BY e, ...] [HAVING e]
         [QUALIFY e] [ORDER BY e [ASC|DESC] [NULLS FIRST|LAST], ...]
         [LIMIT n [OFFSET m]]
     items: *, * EXCEPT (a, b), alias.*, expressions [AS name]
     expressions: columns (rec.field too), literals (TIMESTAMP '...', DATE '...'),
       = != <> < <= > >= AND OR NOT IS [NOT] NULL [NOT] IN (list|subquery)
       [NOT] BETWEEN  [NOT] LIKE  + - * /  CASE WHEN  CAST/SAFE_CAST,
       @named and ? positional query parameters, scalar subqueries (SELECT ...),
       aggregates COUNT(*) COUNT([DISTINCT] e) COUNTIF SUM AVG MIN MAX ANY_VALUE,
       window functions ROW_NUMBER() RANK() DENSE_RANK() and aggregates
       OVER (PARTITION BY ... ORDER BY ...),
       COALESCE IFNULL LOWER UPPER LENGTH CONCAT ABS CURRENT_TIMESTAMP() DATE(ts)
  CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [OPTIONS(...)] AS SELECT ...
  DROP VIEW|TABLE [IF EXISTS] name
  TRUNCATE TABLE name
  DELETE [FROM] name [[AS] alias] WHERE e

The two view shapes f1tel's sink creates are therefore evaluated for real:
  latest version per key:
    SELECT * FROM d.laps WHERE TRUE
    QUALIFY ROW_NUMBER() OVER (PARTITION BY session_key, driver_number, lap_number
                               ORDER BY version DESC) = 1
  latest session:
    SELECT * FROM d.t WHERE session_key = (SELECT MAX(session_key) FROM d.t)
    (or ... = (SELECT session_key FROM d.sessions ORDER BY date_start DESC LIMIT 1))

No JOIN, UNION, WITH, UNNEST, correlated subqueries, UPDATE/MERGE/INSERT DML.
The parser is in sqlparse.py; this file evaluates.  The catalog (tables,
views, streaming buffer) belongs to the server; see Catalog below for what it
must provide.
"""

import datetime
import decimal
import functools
import re

import bqtypes
from sqlparse import (AGGREGATES, UNSUPPORTED, WINDOW_ONLY, Node, Parser, SqlError,
                      Ts, line_col, parse_params, to_typed, unsupported)

# what api.py uses (parsing lives in sqlparse.py)
__all__ = ["Catalog", "Engine", "Parser", "SqlError", "UNSUPPORTED", "parse_params"]

def from_typed(field, v):
    """Evaluation value -> stored value for the output field."""
    if v is None:
        return None
    if field.get("mode") == "REPEATED":
        return [from_typed(dict(field, mode="NULLABLE"), x) for x in v]
    t = field["type"]
    if t == "TIMESTAMP":
        return int(v)
    if t in ("NUMERIC", "BIGNUMERIC"):
        return bqtypes.canonical_decimal(decimal.Decimal(v))
    if t == "FLOAT":
        return float(v)
    if t == "INTEGER":
        return int(v)
    if t == "RECORD":
        return v
    return v


def _typed_row(fields, stored):
    env = {}
    for f in fields:
        v = stored.get(f["name"])
        t = f["type"]
        if v is not None and f.get("mode") != "REPEATED":
            if t == "TIMESTAMP":
                v = Ts(v)
            elif t in ("NUMERIC", "BIGNUMERIC"):
                v = decimal.Decimal(v)
        elif v is not None and t in ("TIMESTAMP", "NUMERIC", "BIGNUMERIC"):
            v = [to_typed(t, x) for x in v]
        env[f["name"].lower()] = v
    return env


def type_label(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "BOOL"
    if isinstance(v, Ts):
        return "TIMESTAMP"
    if isinstance(v, int):
        return "INT64"
    if isinstance(v, float):
        return "FLOAT64"
    if isinstance(v, decimal.Decimal):
        return "NUMERIC"
    if isinstance(v, str):
        return "STRING"
    if isinstance(v, dict):
        return "STRUCT"
    if isinstance(v, list):
        return "ARRAY"
    return type(v).__name__


def coerce_pair(a, b, op="="):
    """Make a and b comparable the way GoogleSQL's implicit coercion does."""
    if isinstance(a, Ts) and isinstance(b, str):
        return a, Ts(_parse_ts_lit(b))
    if isinstance(b, Ts) and isinstance(a, str):
        return Ts(_parse_ts_lit(a)), b
    if isinstance(a, bool) != isinstance(b, bool):
        raise SqlError("No matching signature for operator %s for argument types: %s, %s"
                       % (op, type_label(a), type_label(b)))
    num = (int, float, decimal.Decimal)
    if isinstance(a, num) and isinstance(b, num):
        if isinstance(a, Ts) != isinstance(b, Ts):
            raise SqlError("No matching signature for operator %s for argument types: %s, %s"
                           % (op, type_label(a), type_label(b)))
        if isinstance(a, float) or isinstance(b, float):
            return float(a), float(b)
        return a, b
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        raise SqlError("No matching signature for operator %s for argument types: %s, %s"
                       % (op, type_label(a), type_label(b)))
    return a, b


def _parse_ts_lit(s):
    try:
        return bqtypes.parse_timestamp(s)
    except bqtypes.BadValue:
        raise SqlError("Could not cast literal \"%s\" to type TIMESTAMP" % s)


def compare(a, b, op="="):
    """-1/0/1, or None if either is NULL."""
    if a is None or b is None:
        return None
    a, b = coerce_pair(a, b, op)
    if isinstance(a, float) and (a != a or b != b):
        # NaN: equal to itself and smallest in ordering (as BigQuery orders)
        if a != a and b != b:
            return 0
        return -1 if a != a else 1
    if isinstance(a, (dict, list)):
        raise SqlError("Equality is not defined for arguments of type %s" % type_label(a))
    return (a > b) - (a < b)


def truthy(v):
    return v is True


def sort_cmp(a, b, desc, nulls_first):
    if nulls_first is None:
        nulls_first = not desc
    if a is None and b is None:
        return 0
    if a is None:
        return -1 if nulls_first else 1
    if b is None:
        return 1 if nulls_first else -1
    c = compare(a, b, "ORDER BY")
    return -c if desc else c


# ---- evaluation --------------------------------------------------------------------

class Relation:
    """Named columns (BigQuery field schemas) and rows (dicts of typed values by lower name)."""

    def __init__(self, fields, rows, alias=None):
        self.fields = fields
        self.rows = rows
        self.alias = alias


class Ctx:
    """Evaluation context for one row or one group."""
    __slots__ = ("row", "group", "win", "outputs")

    def __init__(self, row, group=None, win=None, outputs=None):
        self.row = row
        self.group = group
        self.win = win
        self.outputs = outputs


class Catalog:
    """What the server provides (override every method).

    resolve(project, dataset, table) -> ("TABLE", fields, stored_rows) or
        ("VIEW", view_query_text, view_project)  (raise SqlError when missing)
    create_view(p, d, t, text, fields, replace, if_not_exists, description) -> "CREATE"|"REPLACE"|"SKIP"
    drop(p, d, t, what, if_exists) -> "DROP"|"SKIP"
    truncate(p, d, t) -> number of rows removed
    delete(p, d, t, predicate(stored_row) -> bool) -> number of rows removed
    """


class Engine:
    MAX_VIEW_DEPTH = 16

    def __init__(self, catalog, project, default_dataset=None, params=None, now_micros=None):
        self.catalog = catalog
        self.project = project
        self.default_dataset = default_dataset  # (project, dataset) or None
        self.params = params or {}
        self.now = now_micros
        self.sql = None
        self.depth = 0
        self.subq_cache = {}

    # names
    def table_ref(self, parts, pos, project=None, default_dataset=None):
        project = project or self.project
        if len(parts) == 1:
            dd = default_dataset if default_dataset is not None else self.default_dataset
            if not dd:
                raise SqlError("Table \"%s\" must be qualified with a dataset (e.g. dataset.table)."
                               % parts[0])
            return dd[0], dd[1], parts[0]
        if len(parts) == 2:
            return project, parts[0], parts[1]
        if len(parts) == 3:
            return parts[0], parts[1], parts[2]
        raise SqlError("Invalid table name: %s at %s" % (".".join(parts), line_col(self.sql, pos)))

    # entry point
    def run(self, sql):
        """Result dict: statement_type, fields, rows (stored dicts), affected, ddl_op, target."""
        self.sql = sql
        parser = Parser(sql, self.params)
        stmt = parser.statement()
        k = stmt.kind
        if k == "select":
            rel_fields, rows = self.query(stmt)
            return {"statement_type": "SELECT", "fields": rel_fields, "rows": rows}
        if k == "create_view":
            p, d, t = self.table_ref(stmt.path, stmt.path_pos)
            # validate the view's query now (BigQuery resolves the referenced tables)
            inner = Engine(self.catalog, p, None, {}, self.now)
            fields, _ = inner.view_schema(stmt.text)
            names = [f["name"].lower() for f in fields]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise SqlError("CREATE VIEW has columns with duplicate name %s at %s"
                               % (dup[0], line_col(sql, stmt.pos)))
            op = self.catalog.create_view(p, d, t, stmt.text, fields, stmt.replace,
                                          stmt.if_not_exists, stmt.description)
            return {"statement_type": "CREATE_VIEW", "ddl_op": op, "target": (p, d, t)}
        if k == "drop":
            p, d, t = self.table_ref(stmt.path, stmt.path_pos)
            op = self.catalog.drop(p, d, t, stmt.what, stmt.if_exists)
            return {"statement_type": "DROP_" + stmt.what, "ddl_op": op, "target": (p, d, t)}
        if k == "truncate":
            p, d, t = self.table_ref(stmt.path, stmt.path_pos)
            n = self.catalog.truncate(p, d, t)
            return {"statement_type": "TRUNCATE_TABLE", "affected": n, "target": (p, d, t)}
        if k == "delete":
            p, d, t = self.table_ref(stmt.path, stmt.path_pos)
            kind, fields, _rows = self.catalog.resolve(p, d, t)
            if kind != "TABLE":
                raise SqlError("Cannot delete from view %s.%s.%s" % (p, d, t))
            alias = stmt.alias or t
            scope = Relation(fields, [], alias)
            self.check_columns(stmt.where, scope)

            def predicate(stored):
                ctx = Ctx(_typed_row(fields, stored))
                return truthy(self.eval(stmt.where, ctx, scope))
            n = self.catalog.delete(p, d, t, predicate)
            return {"statement_type": "DELETE", "affected": n, "target": (p, d, t)}
        raise unsupported(k)

    def view_schema(self, text):
        self.sql = text
        q = Parser(text, {}).query()
        fields, _ = self.query(q, schema_only=True)
        return fields, q

    # relations
    def load_source(self, src):
        if src is None:
            return Relation([], [{}], None)
        if src.kind == "subquery":
            saved = self.sql
            fields, rows = self.query(src.query)
            self.sql = saved
            rel = Relation(fields, [_typed_row(fields, r) for r in rows], src.alias)
            return rel
        p, d, t = self.table_ref(src.path, src.pos)
        return self.load_table(p, d, t, src.alias or t)

    def load_table(self, p, d, t, alias):
        res = self.catalog.resolve(p, d, t)
        if res[0] == "TABLE":
            _, fields, stored = res
            return Relation(fields, [_typed_row(fields, r) for r in stored], alias)
        _, text, vproject = res
        if self.depth >= self.MAX_VIEW_DEPTH:
            raise SqlError("View %s.%s.%s references views nested too deeply" % (p, d, t))
        inner = Engine(self.catalog, vproject, None, {}, self.now)
        inner.depth = self.depth + 1
        inner.sql = text
        q = Parser(text, {}).query()
        fields, rows = inner.query(q)
        return Relation(fields, [_typed_row(fields, r) for r in rows], alias)

    # column lookup
    def lookup(self, parts, ctx, scope, pos):
        """Value of a column reference in ctx (output aliases first when present)."""
        row = ctx.row
        first = parts[0].lower()
        rest = parts[1:]
        if ctx.outputs is not None and first in ctx.outputs and not rest:
            return ctx.outputs[first]
        if row is not None and first in row:
            v = row[first]
        elif scope is not None and scope.alias and first == scope.alias.lower() and rest:
            key = rest[0].lower()
            if row is None or key not in row:
                raise SqlError("Name %s not found inside %s at %s"
                               % (rest[0], parts[0], line_col(self.sql, pos)))
            v = row[key]
            rest = rest[1:]
        elif row is None:
            v = None
        else:
            raise SqlError("Unrecognized name: %s at %s" % (parts[0], line_col(self.sql, pos)))
        for r in rest:
            if v is None:
                return None
            if not isinstance(v, dict):
                raise SqlError("Cannot access field %s on a value with type %s at %s"
                               % (r, type_label(v), line_col(self.sql, pos)))
            found = None
            for k2, v2 in v.items():
                if k2.lower() == r.lower():
                    found = (v2,)
            if found is None:
                raise SqlError("Field name %s does not exist at %s" % (r, line_col(self.sql, pos)))
            v = found[0]
        return v

    def field_of(self, parts, scope, pos, outputs=None):
        """The schema field a column reference names (for result types)."""
        if scope is None:
            raise SqlError("Unrecognized name: %s at %s" % (parts[0], line_col(self.sql, pos)))
        fields = scope.fields
        first = parts[0].lower()
        rest = parts[1:]
        if outputs is not None and first in outputs and not rest:
            return outputs[first]
        f = bqtypes.find_field(fields, parts[0])
        if f is None and scope.alias and first == scope.alias.lower() and rest:
            f = bqtypes.find_field(fields, rest[0])
            if f is None:
                raise SqlError("Name %s not found inside %s at %s"
                               % (rest[0], parts[0], line_col(self.sql, pos)))
            rest = rest[1:]
        if f is None:
            raise SqlError("Unrecognized name: %s at %s" % (parts[0], line_col(self.sql, pos)))
        for r in rest:
            if f["type"] != "RECORD" or f.get("mode") == "REPEATED":
                raise SqlError("Cannot access field %s on a value with type %s at %s"
                               % (r, f["type"], line_col(self.sql, pos)))
            g = bqtypes.find_field(f["fields"], r)
            if g is None:
                raise SqlError("Field name %s does not exist in STRUCT at %s" % (r, line_col(self.sql, pos)))
            f = g
        return f

    def check_columns(self, e, scope, outputs=None):
        """Raise for unknown columns / bad aggregate use before evaluating anything."""
        self.infer(e, scope, outputs)

    # type inference
    def infer(self, e, scope, outputs=None):
        k = e.kind
        if k == "lit":
            return {"type": e.type, "mode": "NULLABLE"}
        if k == "col":
            f = self.field_of(e.parts, scope, e.pos, outputs)
            return dict(f)
        if k in ("and", "or"):
            self.infer(e.a, scope, outputs)
            self.infer(e.b, scope, outputs)
            return {"type": "BOOLEAN", "mode": "NULLABLE"}
        if k == "not":
            self.infer(e.a, scope, outputs)
            return {"type": "BOOLEAN", "mode": "NULLABLE"}
        if k == "cmp":
            self.infer(e.a, scope, outputs)
            self.infer(e.b, scope, outputs)
            return {"type": "BOOLEAN", "mode": "NULLABLE"}
        if k in ("isnull", "istruth", "like"):
            self.infer(e.a, scope, outputs)
            if k == "like":
                self.infer(e.pattern, scope, outputs)
            return {"type": "BOOLEAN", "mode": "NULLABLE"}
        if k == "in":
            self.infer(e.a, scope, outputs)
            for x in e.items:
                self.infer(x, scope, outputs)
            return {"type": "BOOLEAN", "mode": "NULLABLE"}
        if k == "in_sub":
            self.infer(e.a, scope, outputs)
            fields = self.subquery_fields(e.query)
            if len(fields) != 1:
                raise SqlError("Subquery of type IN must have only one output column at %s"
                               % line_col(self.sql, e.pos))
            return {"type": "BOOLEAN", "mode": "NULLABLE"}
        if k == "between":
            for x in (e.a, e.lo, e.hi):
                self.infer(x, scope, outputs)
            return {"type": "BOOLEAN", "mode": "NULLABLE"}
        if k == "neg":
            return self.infer(e.a, scope, outputs)
        if k == "arith":
            ta = self.infer(e.a, scope, outputs)["type"]
            tb = self.infer(e.b, scope, outputs)["type"]
            if e.op == "||":
                return {"type": "STRING", "mode": "NULLABLE"}
            if e.op == "/":
                return {"type": "FLOAT", "mode": "NULLABLE"}
            if ta == tb == "INTEGER":
                return {"type": "INTEGER", "mode": "NULLABLE"}
            if "NUMERIC" in (ta, tb) and "FLOAT" not in (ta, tb):
                return {"type": "NUMERIC", "mode": "NULLABLE"}
            return {"type": "FLOAT", "mode": "NULLABLE"}
        if k == "cast":
            self.infer(e.a, scope, outputs)
            return {"type": e.type, "mode": "NULLABLE"}
        if k == "case":
            if e.operand is not None:
                self.infer(e.operand, scope, outputs)
            t = None
            for c, r in e.whens:
                self.infer(c, scope, outputs)
                rt = self.infer(r, scope, outputs)
                t = t or rt
            if e.default is not None:
                dt = self.infer(e.default, scope, outputs)
                t = t or dt
            return {"type": t["type"], "mode": "NULLABLE"}
        if k == "subq":
            fields = self.subquery_fields(e.query)
            if len(fields) != 1:
                raise SqlError("Scalar subquery cannot have more than one column unless using "
                               "SELECT AS STRUCT to build STRUCT values at %s" % line_col(self.sql, e.pos))
            return dict(fields[0], mode="NULLABLE")
        if k == "fn":
            return self.infer_fn(e, scope, outputs)
        if k == "window":
            for x in e.partition:
                self.infer(x, scope, outputs)
            for x, _, _ in e.order:
                self.infer(x, scope, outputs)
            if e.fn.name in WINDOW_ONLY:
                return {"type": "INTEGER", "mode": "NULLABLE"}
            return self.infer_fn(e.fn, scope, outputs)
        raise unsupported("expression %s" % k)

    def infer_fn(self, e, scope, outputs):
        name = e.name
        argt = [self.infer(a, scope, outputs) for a in e.args]
        if name == "COUNT" or name == "COUNTIF":
            if name == "COUNT" and not e.star and len(e.args) != 1:
                raise SqlError("Number of arguments does not match for aggregate function COUNT")
            return {"type": "INTEGER", "mode": "NULLABLE"}
        if name in ("SUM", "AVG", "MIN", "MAX", "ANY_VALUE"):
            if len(e.args) != 1:
                raise SqlError("Number of arguments does not match for aggregate function %s" % name)
            t = argt[0]["type"]
            if name == "AVG":
                return {"type": "NUMERIC" if t == "NUMERIC" else "FLOAT", "mode": "NULLABLE"}
            if name == "SUM" and t not in ("INTEGER", "FLOAT", "NUMERIC", "BIGNUMERIC"):
                raise SqlError("No matching signature for aggregate function SUM for argument "
                               "types: %s" % t)
            out = dict(argt[0], mode="NULLABLE")
            return out
        if name in ("LOGICAL_AND", "LOGICAL_OR"):
            return {"type": "BOOLEAN", "mode": "NULLABLE"}
        if name in ("COALESCE", "IFNULL", "GREATEST", "LEAST"):
            if not argt:
                raise SqlError("Number of arguments does not match for function %s" % name)
            for t in argt:
                if t["type"] != "INTEGER":
                    return dict(t, mode="NULLABLE")
            return dict(argt[0], mode="NULLABLE")
        if name in ("LOWER", "UPPER", "CONCAT"):
            return {"type": "STRING", "mode": "NULLABLE"}
        if name in ("LENGTH",):
            return {"type": "INTEGER", "mode": "NULLABLE"}
        if name == "ABS":
            return dict(argt[0], mode="NULLABLE") if argt else {"type": "INTEGER", "mode": "NULLABLE"}
        if name in ("CURRENT_TIMESTAMP", "TIMESTAMP"):
            return {"type": "TIMESTAMP", "mode": "NULLABLE"}
        if name == "DATE":
            return {"type": "DATE", "mode": "NULLABLE"}
        raise unsupported("function %s" % name)

    def subquery_fields(self, q):
        key = ("fields", id(q))
        if key not in self.subq_cache:
            saved = self.sql
            fields, _ = self.query(q, schema_only=True)
            self.sql = saved
            self.subq_cache[key] = fields
        return self.subq_cache[key]

    def subquery_rows(self, q):
        key = ("rows", id(q))
        if key not in self.subq_cache:
            saved = self.sql
            fields, rows = self.query(q)
            self.sql = saved
            f = fields[0]
            self.subq_cache[key] = [to_typed_field(f, r.get(f["name"])) for r in rows]
        return self.subq_cache[key]

    # expression evaluation
    def eval(self, e, ctx, scope):
        k = e.kind
        if k == "lit":
            return e.value
        if k == "col":
            return self.lookup(e.parts, ctx, scope, e.pos)
        if k == "and":
            a = self.eval(e.a, ctx, scope)
            if a is False:
                return False
            b = self.eval(e.b, ctx, scope)
            if b is False:
                return False
            if a is None or b is None:
                return None
            return True
        if k == "or":
            a = self.eval(e.a, ctx, scope)
            if a is True:
                return True
            b = self.eval(e.b, ctx, scope)
            if b is True:
                return True
            if a is None or b is None:
                return None
            return False
        if k == "not":
            a = self.eval(e.a, ctx, scope)
            return None if a is None else (not a)
        if k == "cmp":
            c = compare(self.eval(e.a, ctx, scope), self.eval(e.b, ctx, scope), e.op)
            if c is None:
                return None
            return {"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0,
                    ">=": c >= 0}[e.op]
        if k == "isnull":
            v = self.eval(e.a, ctx, scope)
            return (v is not None) if e.neg else (v is None)
        if k == "istruth":
            v = self.eval(e.a, ctx, scope)
            r = v is e.value
            return (not r) if e.neg else r
        if k in ("in", "in_sub"):
            v = self.eval(e.a, ctx, scope)
            if v is None:
                return None
            values = self.subquery_rows(e.query) if k == "in_sub" else \
                [self.eval(x, ctx, scope) for x in e.items]
            saw_null = False
            for x in values:
                c = compare(v, x, "IN")
                if c is None:
                    saw_null = True
                elif c == 0:
                    return not e.neg
            if saw_null:
                return None
            return e.neg
        if k == "between":
            v = self.eval(e.a, ctx, scope)
            lo = compare(v, self.eval(e.lo, ctx, scope), "BETWEEN")
            hi = compare(v, self.eval(e.hi, ctx, scope), "BETWEEN")
            if lo is None or hi is None:
                return None
            r = lo >= 0 and hi <= 0
            return (not r) if e.neg else r
        if k == "like":
            v = self.eval(e.a, ctx, scope)
            p = self.eval(e.pattern, ctx, scope)
            if v is None or p is None:
                return None
            rx = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in p)
            r = re.fullmatch(rx, v, re.S) is not None
            return (not r) if e.neg else r
        if k == "neg":
            v = self.eval(e.a, ctx, scope)
            return None if v is None else -v
        if k == "arith":
            a = self.eval(e.a, ctx, scope)
            b = self.eval(e.b, ctx, scope)
            if a is None or b is None:
                return None
            if e.op == "||":
                return str(a) + str(b)
            if isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
                raise SqlError("No matching signature for operator %s for argument types: %s, %s"
                               % (e.op, type_label(a), type_label(b)))
            if isinstance(a, float) or isinstance(b, float):
                a, b = float(a), float(b)
            elif isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
                a, b = decimal.Decimal(a), decimal.Decimal(b)
            if e.op == "+":
                return a + b
            if e.op == "-":
                return a - b
            if e.op == "*":
                return a * b
            if b == 0:
                raise SqlError("division by zero: %s / %s" % (a, b))
            return (float(a) / float(b)) if not isinstance(a, decimal.Decimal) else a / b
        if k == "cast":
            v = self.eval(e.a, ctx, scope)
            return self.cast(v, e.type, e.safe)
        if k == "case":
            if e.operand is not None:
                base = self.eval(e.operand, ctx, scope)
                for c, r in e.whens:
                    if compare(base, self.eval(c, ctx, scope), "CASE") == 0:
                        return self.eval(r, ctx, scope)
            else:
                for c, r in e.whens:
                    if truthy(self.eval(c, ctx, scope)):
                        return self.eval(r, ctx, scope)
            return None if e.default is None else self.eval(e.default, ctx, scope)
        if k == "subq":
            vals = self.subquery_rows(e.query)
            if len(vals) > 1:
                raise SqlError("Scalar subquery produced more than one element")
            return vals[0] if vals else None
        if k == "fn":
            return self.eval_fn(e, ctx, scope)
        if k == "window":
            if ctx.win is None or id(e) not in ctx.win:
                raise SqlError("Analytic function not allowed in this context at %s"
                               % line_col(self.sql, e.pos))
            return ctx.win[id(e)]
        raise unsupported("expression %s" % k)

    def cast(self, v, t, safe):
        if v is None:
            return None
        try:
            if t == "STRING":
                if isinstance(v, Ts):
                    return bqtypes.timestamp_iso(int(v)).replace(" UTC", "+00")
                if isinstance(v, bool):
                    return "true" if v else "false"
                if isinstance(v, float):
                    return bqtypes.java_double(v)
                return str(v)
            if t == "INTEGER":
                if isinstance(v, float):
                    return int(round(v))
                if isinstance(v, decimal.Decimal):
                    return int(v.to_integral_value(rounding=decimal.ROUND_HALF_UP))
                return bqtypes.coerce_scalar("INTEGER", v if not isinstance(v, Ts) else int(v))
            if t == "FLOAT":
                return float(v) if not isinstance(v, str) else bqtypes.coerce_scalar("FLOAT", v)
            if t in ("NUMERIC", "BIGNUMERIC"):
                return decimal.Decimal(bqtypes.coerce_scalar(t, v if not isinstance(v, float) else repr(v)))
            if t == "BOOLEAN":
                if isinstance(v, str):
                    return bqtypes.coerce_scalar("BOOLEAN", v)
                return bool(v)
            if t == "TIMESTAMP":
                if isinstance(v, Ts):
                    return v
                if isinstance(v, str):
                    return Ts(bqtypes.parse_timestamp(v))
            if t == "DATE":
                if isinstance(v, Ts):
                    return bqtypes.timestamp_iso(int(v))[:10]
                return bqtypes.parse_date(v)
            if t == "DATETIME":
                return bqtypes.parse_datetime(v)
            if t == "TIME":
                return bqtypes.parse_time(v)
        except (bqtypes.BadValue, ValueError, TypeError):
            pass
        if safe:
            return None
        raise SqlError("Invalid cast from %s to %s" % (type_label(v), t))

    def eval_fn(self, e, ctx, scope):
        name = e.name
        if name in AGGREGATES:
            if ctx.group is None:
                raise SqlError("Aggregate function %s not allowed in this context at %s"
                               % (name, line_col(self.sql, e.pos)))
            return self.aggregate(e, ctx.group, scope)
        args = [self.eval(a, ctx, scope) for a in e.args]
        if name in ("COALESCE",):
            for a in args:
                if a is not None:
                    return a
            return None
        if name == "IFNULL":
            return args[0] if args[0] is not None else args[1]
        if name in ("GREATEST", "LEAST"):
            if any(a is None for a in args):
                return None
            best = args[0]
            for a in args[1:]:
                c = compare(a, best, name)
                if (c > 0 and name == "GREATEST") or (c < 0 and name == "LEAST"):
                    best = a
            return best
        if name in ("LOWER", "UPPER"):
            if args[0] is None:
                return None
            return args[0].lower() if name == "LOWER" else args[0].upper()
        if name == "LENGTH":
            return None if args[0] is None else len(args[0])
        if name == "CONCAT":
            if any(a is None for a in args):
                return None
            return "".join(str(a) for a in args)
        if name == "ABS":
            return None if args[0] is None else abs(args[0])
        if name == "CURRENT_TIMESTAMP":
            return Ts(self.now if self.now is not None else 0)
        if name == "TIMESTAMP":
            return self.cast(args[0], "TIMESTAMP", False)
        if name == "DATE":
            return self.cast(args[0], "DATE", False)
        raise unsupported("function %s" % name)

    def aggregate(self, e, group, scope):
        name = e.name
        if e.star:
            return len(group)
        vals = []
        for row in group:
            v = self.eval(e.args[0], Ctx(row), scope)
            vals.append(v)
        if name == "COUNTIF":
            return sum(1 for v in vals if v is True)
        nn = [v for v in vals if v is not None]
        if e.distinct:
            uniq = []
            for v in nn:
                if not any(compare(v, u) == 0 for u in uniq):
                    uniq.append(v)
            nn = uniq
        if name == "COUNT":
            return len(nn)
        if not nn:
            return None
        if name == "SUM":
            return sum(nn[1:], nn[0])
        if name == "AVG":
            if isinstance(nn[0], decimal.Decimal):
                return sum(nn[1:], nn[0]) / len(nn)
            return float(sum(nn)) / len(nn)
        if name in ("MIN", "MAX"):
            best = nn[0]
            for v in nn[1:]:
                c = compare(v, best, name)
                if (name == "MAX" and c > 0) or (name == "MIN" and c < 0):
                    best = v
            return best
        if name == "ANY_VALUE":
            return nn[0]
        if name == "LOGICAL_AND":
            return all(nn)
        if name == "LOGICAL_OR":
            return any(nn)
        raise unsupported("aggregate %s" % name)

    # SELECT
    def query(self, q, schema_only=False):
        """(output fields, output rows as stored dicts by field name)."""
        rel = self.load_source(q.source) if not schema_only else self.source_schema(q.source)
        scope = rel

        # output schema and column checks
        out_fields = []
        items = []  # (kind, payload): ("cols", [(field, lowername)]) or ("expr", expr, field)
        anon = 0
        has_agg = q.group is not None
        for it in q.items:
            if it.kind == "star":
                if not rel.fields and q.source is None:
                    raise SqlError("SELECT * must have a FROM clause at %s" % line_col(self.sql, it.pos))
                if it.qualifier is not None and (not rel.alias or it.qualifier.lower() != rel.alias.lower()):
                    f = bqtypes.find_field(rel.fields, it.qualifier)
                    if f is None or f["type"] != "RECORD":
                        raise SqlError("Unrecognized name: %s at %s" % (it.qualifier, line_col(self.sql, it.pos)))
                    raise unsupported("record.* expansion", it.pos, self.sql)
                excl = {x.lower() for x in it.exclude}
                for x in it.exclude:
                    if bqtypes.find_field(rel.fields, x) is None:
                        raise SqlError("Column %s in SELECT * EXCEPT list does not exist at %s"
                                       % (x, line_col(self.sql, it.pos)))
                cols = []
                for f in rel.fields:
                    if f["name"].lower() in excl:
                        continue
                    out_fields.append(dict(f))
                    cols.append(f["name"].lower())
                items.append(("cols", cols))
            else:
                if contains_agg(it.expr):
                    has_agg = True
                f = self.infer(it.expr, scope)
                if it.alias:
                    name = it.alias
                elif it.expr.kind == "col":
                    name = it.expr.parts[-1]
                else:
                    name = "f%d_" % anon
                    anon += 1
                f = dict({"name": name}, **{k: v for k, v in f.items() if k != "name"})
                out_fields.append(f)
                items.append(("expr", it.expr))
        if q.where is not None:
            if contains_agg(q.where) or contains_window(q.where):
                raise SqlError("Aggregate and analytic functions are not allowed in WHERE at %s"
                               % line_col(self.sql, q.where.pos))
            self.infer(q.where, scope)
        if q.group:
            resolved = []
            for g in q.group:
                if g.kind == "lit" and isinstance(g.value, int) and not isinstance(g.value, bool):
                    if not 1 <= g.value <= len(q.items) or q.items[g.value - 1].kind != "item":
                        raise SqlError("GROUP BY position %d is out of range at %s"
                                       % (g.value, line_col(self.sql, g.pos)))
                    g = q.items[g.value - 1].expr
                    if contains_agg(g):
                        raise SqlError("GROUP BY position %d refers to an aggregate" % g.value)
                resolved.append(g)
            q.group = resolved
            for g in q.group:
                self.infer(g, scope)
        if q.having is not None:
            if q.group is None and not has_agg:
                raise SqlError("HAVING clause requires GROUP BY or aggregation")
            has_agg = True
            self.infer(q.having, scope)
        if has_agg and any(contains_window(it.expr) for it in q.items if it.kind == "item"):
            raise unsupported("analytic functions together with aggregation", q.pos, self.sql)
        if has_agg and q.qualify is not None:
            raise unsupported("QUALIFY together with aggregation", q.pos, self.sql)
        if has_agg:
            # a non-aggregated column must be grouped
            group_keys = [g for g in (q.group or [])]
            for it in q.items:
                if it.kind == "star":
                    raise SqlError("SELECT list expression references columns which are neither "
                                   "grouped nor aggregated at %s" % line_col(self.sql, it.pos))
                self.check_grouped(it.expr, group_keys)
        outputs_schema = {f["name"].lower(): f for f in out_fields}
        if q.qualify is not None:
            if not contains_window(q.qualify):
                raise SqlError("QUALIFY clause must contain an analytic function at %s"
                               % line_col(self.sql, q.qualify.pos))
            self.infer(q.qualify, scope, outputs_schema)
        for e, _, _ in (q.order or []):
            if not (e.kind == "lit" and isinstance(e.value, int) and not isinstance(e.value, bool)):
                self.infer(e, scope, outputs_schema)
        if schema_only:
            return out_fields, []

        rows = rel.rows
        if q.where is not None:
            rows = [r for r in rows if truthy(self.eval(q.where, Ctx(r), scope))]

        if has_agg:
            ctxs = []
            if q.group:
                groups = {}
                order = []
                for r in rows:
                    key = tuple(hashable(self.eval(g, Ctx(r), scope)) for g in q.group)
                    if key not in groups:
                        groups[key] = []
                        order.append(key)
                    groups[key].append(r)
                for key in order:
                    g = groups[key]
                    ctxs.append(Ctx(g[0], g))
            else:
                ctxs.append(Ctx(rows[0] if rows else None, rows))
            if q.having is not None:
                ctxs = [c for c in ctxs if truthy(self.eval(q.having, c, scope))]
        else:
            ctxs = [Ctx(r) for r in rows]
            wins = []
            for it in q.items:
                if it.kind == "item":
                    collect_windows(it.expr, wins)
            if q.qualify is not None:
                collect_windows(q.qualify, wins)
            for e, _, _ in (q.order or []):
                collect_windows(e, wins)
            if wins:
                for c in ctxs:
                    c.win = {}
                for w in wins:
                    self.compute_window(w, ctxs, scope)

        # projection
        results = []
        for c in ctxs:
            vals = []
            for it in items:
                if it[0] == "cols":
                    for name in it[1]:
                        vals.append(c.row.get(name) if c.row is not None else None)
                else:
                    vals.append(self.eval(it[1], c, scope))
            outs = {}
            for f, v in zip(out_fields, vals):
                outs.setdefault(f["name"].lower(), v)
            c.outputs = outs
            results.append((vals, c))

        if q.qualify is not None:
            results = [(v, c) for v, c in results if truthy(self.eval(q.qualify, c, scope))]

        if q.distinct:
            seen = set()
            uniq = []
            for v, c in results:
                key = tuple(hashable(x) for x in v)
                if key not in seen:
                    seen.add(key)
                    uniq.append((v, c))
            results = uniq

        if q.order:
            keyed = []
            for v, c in results:
                ks = []
                for e, _, _ in q.order:
                    if e.kind == "lit" and isinstance(e.value, int) and not isinstance(e.value, bool):
                        if not 1 <= e.value <= len(v):
                            raise SqlError("ORDER BY column number item is out of range at %s"
                                           % line_col(self.sql, e.pos))
                        ks.append(v[e.value - 1])
                    else:
                        ks.append(self.eval(e, c, scope))
                keyed.append((ks, v))

            def cmpf(x, y):
                for (e, desc, nf), a, b in zip(q.order, x[0], y[0]):
                    r = sort_cmp(a, b, desc, nf)
                    if r:
                        return r
                return 0
            keyed.sort(key=functools.cmp_to_key(cmpf))
            results = [(v, None) for _, v in keyed]
        if q.offset:
            results = results[q.offset:]
        if q.limit is not None:
            results = results[:q.limit]

        out_rows = []
        for v, _ in results:
            row = {}
            for f, x in zip(out_fields, v):
                if f["name"] in row:
                    continue
                row[f["name"]] = from_typed(f, x)
            out_rows.append(row)
        return out_fields, out_rows

    def source_schema(self, src):
        if src is None:
            return Relation([], [], None)
        if src.kind == "subquery":
            saved = self.sql
            fields, _ = self.query(src.query, schema_only=True)
            self.sql = saved
            return Relation(fields, [], src.alias)
        p, d, t = self.table_ref(src.path, src.pos)
        res = self.catalog.resolve(p, d, t)
        if res[0] == "TABLE":
            return Relation(res[1], [], src.alias or t)
        _, text, vproject = res
        if self.depth >= self.MAX_VIEW_DEPTH:
            raise SqlError("View %s.%s.%s references views nested too deeply" % (p, d, t))
        inner = Engine(self.catalog, vproject, None, {}, self.now)
        inner.depth = self.depth + 1
        fields, _ = inner.view_schema(text)
        return Relation(fields, [], src.alias or t)

    def check_grouped(self, e, group_keys):
        if e is None:
            return
        if e.kind == "fn" and e.name in AGGREGATES:
            return
        for g in group_keys:
            if same_expr(e, g):
                return
        if e.kind == "col":
            raise SqlError("SELECT list expression references column %s which is neither grouped "
                           "nor aggregated at %s" % (".".join(e.parts), line_col(self.sql, e.pos)))
        for child in children(e):
            self.check_grouped(child, group_keys)

    def compute_window(self, w, ctxs, scope):
        parts = {}
        order = []
        for c in ctxs:
            key = tuple(hashable(self.eval(p, c, scope)) for p in w.partition)
            if key not in parts:
                parts[key] = []
                order.append(key)
            parts[key].append(c)
        for key in order:
            members = parts[key]
            if w.order:
                keyed = [([self.eval(e, c, scope) for e, _, _ in w.order], c) for c in members]

                def cmpf(x, y):
                    for (e, desc, nf), a, b in zip(w.order, x[0], y[0]):
                        r = sort_cmp(a, b, desc, nf)
                        if r:
                            return r
                    return 0
                keyed.sort(key=functools.cmp_to_key(cmpf))
            else:
                keyed = [(None, c) for c in members]
            name = w.fn.name
            if name in WINDOW_ONLY:
                rank = 0
                dense = 0
                prev = None
                for i, (ks, c) in enumerate(keyed):
                    if name == "ROW_NUMBER":
                        c.win[id(w)] = i + 1
                        continue
                    if prev is None or any(sort_cmp(a, b, False, True) for a, b in zip(ks, prev)):
                        rank = i + 1
                        dense += 1
                    prev = ks
                    c.win[id(w)] = rank if name == "RANK" else dense
            else:
                value = self.aggregate(w.fn, [c.row for _, c in keyed], scope)
                for _, c in keyed:
                    c.win[id(w)] = value


def to_typed_field(field, v):
    if v is None:
        return None
    if field.get("mode") == "REPEATED":
        return [to_typed(field["type"], x) for x in v]
    return to_typed(field["type"], v)


def hashable(v):
    if isinstance(v, dict):
        return tuple(sorted((k, hashable(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(hashable(x) for x in v)
    if isinstance(v, float) and v != v:
        return ("NaN",)
    if isinstance(v, bool):
        return ("bool", v)
    return v


def children(e):
    out = []
    for k, v in e.__dict__.items():
        if k in ("query",):
            continue
        if isinstance(v, Node):
            out.append(v)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, Node):
                    out.append(x)
                elif isinstance(x, tuple):
                    out.extend(y for y in x if isinstance(y, Node))
    return out


def contains_agg(e):
    if e is None:
        return False
    if e.kind == "window":
        return False
    if e.kind == "fn" and e.name in AGGREGATES:
        return True
    return any(contains_agg(c) for c in children(e))


def contains_window(e):
    if e is None:
        return False
    if e.kind == "window":
        return True
    return any(contains_window(c) for c in children(e))


def collect_windows(e, out):
    if e is None:
        return
    if e.kind == "window":
        if e not in out:
            out.append(e)
        return
    for c in children(e):
        collect_windows(c, out)


def same_expr(a, b):
    if a.kind != b.kind:
        return False
    if a.kind == "col":
        return [p.lower() for p in a.parts] == [p.lower() for p in b.parts] or \
            a.parts[-1].lower() == b.parts[-1].lower() and len(a.parts) != len(b.parts)
    if a.kind == "lit":
        return a.value == b.value and a.type == b.type
    ca, cb = children(a), children(b)
    if len(ca) != len(cb):
        return False
    for k in ("op", "name", "neg"):
        if getattr(a, k, None) != getattr(b, k, None):
            return False
    return all(same_expr(x, y) for x, y in zip(ca, cb))


def now_micros():
    d = datetime.datetime.now(datetime.timezone.utc) - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return d.days * 86400000000 + d.seconds * 1000000 + d.microseconds
