"""The GoogleSQL subset of the local BigQuery server (jobs.query, jobs.insert, views).

Only what its users send.  f1tel's sink creates three views (view_query() in
src/sink/bigquery.c):

  SELECT * FROM `p.d.driver_laps` WHERE TRUE QUALIFY ROW_NUMBER() OVER
    (PARTITION BY session_key, driver_number, lap_number ORDER BY version DESC) = 1
  SELECT * FROM `p.d.driver_laps_latest` WHERE session_key =
    (SELECT session_key FROM `p.d.driver_laps` ORDER BY date_start DESC LIMIT 1)
  SELECT * FROM `p.d.race_control` WHERE session_key = (the same subquery)

and the tests, the demo and `bq query` send SELECT COUNT(*) [AS n] FROM t and
TRUNCATE TABLE t; the top-level README promises DELETE refused on rows in
the streaming buffer.  Hence this grammar (keywords in any case):

  SELECT item, ... FROM table [WHERE e] [QUALIFY e] [ORDER BY key, ...] [LIMIT n]
    item:    * | COUNT(*) [AS name] | column [AS name]
    key:     column [ASC | DESC]            (a column of the table, not an alias of
                                            the SELECT list; NULLs first ascending,
                                            last descending)
    e:       c [AND c] ...        c: operand [= | != | <> | < | <= | > | >= operand]
    operand: column | 12 | 1.5 | 'text' | TRUE | FALSE
           | (SELECT ...)                   a scalar subquery (one column, not correlated)
           | ROW_NUMBER() OVER ([PARTITION BY column, ...] [ORDER BY key, ...])   QUALIFY only
  TRUNCATE TABLE table
  DELETE [FROM] table WHERE e
    table:   `p.d.t`, p.d.t or d.t (the request's project): a table or a view

Anything else is HTTP 400 "query shape not supported by the local server: ...".
Before anything runs, names are resolved and types checked as GoogleSQL
does (unknown columns, comparisons of unlike types, a WHERE that is not
BOOL, a scalar subquery of two columns), so a view's schema is known when it
is created, and a wrong view is refused then, as BigQuery refuses it.
"""

import operator
import re

UNSUPPORTED = "query shape not supported by the local server"
MAX_VIEW_DEPTH = 16
SQL_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "STRING": "STRING",
             "TIMESTAMP": "TIMESTAMP"}
COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}
KEYWORDS = {"SELECT", "FROM", "WHERE", "QUALIFY", "ORDER", "BY", "LIMIT", "AND", "AS", "ASC",
            "DESC", "TRUE", "FALSE", "OVER", "PARTITION", "TRUNCATE", "TABLE", "DELETE"}
TOKEN_RE = re.compile(r"\s+|(?P<q>`[^`]*`)|(?P<s>'[^'\\\n]*'|\"[^\"\\\n]*\")"
                      r"|(?P<n>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|(?P<i>[A-Za-z_]\w*)"
                      r"|(?P<o><>|!=|<=|>=|[=<>(),.*;])")


class SqlError(Exception):
    """A query BigQuery (or this server) refuses: HTTP 400 invalidQuery."""

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message


def line_col(sql, pos):
    return "[%d:%d]" % (sql.count("\n", 0, pos) + 1, pos - sql.rfind("\n", 0, pos))


class Node:
    def __init__(self, kind, pos, **kw):
        self.kind = kind
        self.pos = pos
        self.__dict__.update(kw)


# ---- parsing --------------------------------------------------------------------

class Parser:
    def __init__(self, sql):
        self.sql = sql
        self.toks = []
        pos = 0
        while pos < len(sql):
            m = TOKEN_RE.match(sql, pos)
            if not m:
                raise SqlError("%s: Syntax error: Illegal input character \"%s\" at %s"
                               % (UNSUPPORTED, sql[pos], line_col(sql, pos)))
            if m.lastgroup:
                self.toks.append((m.lastgroup, m.group(), pos))
            pos = m.end()
        self.toks.append(("eof", "", len(sql)))
        self.i = 0

    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def kw(self, *words, k=0):
        t = self.peek(k)
        return t[0] == "i" and t[1].upper() in words

    def op(self, o, k=0):
        t = self.peek(k)
        return t[0] == "o" and t[1] == o

    def take(self):
        t = self.toks[self.i]
        self.i += t[0] != "eof"
        return t

    def fail(self, expected=None):
        kind, text, pos = self.peek()
        got = "end of input" if kind == "eof" else "\"%s\"" % text
        raise SqlError("%s: Syntax error: %s at %s" % (
            UNSUPPORTED, ("Expected %s but got %s" % (expected, got)) if expected
            else "Unexpected %s" % got, line_col(self.sql, pos)))

    def expect(self, word=None, o=None):
        if (word and not self.kw(word)) or (o and not self.op(o)):
            self.fail(word and "keyword %s" % word or "\"%s\"" % o)
        return self.take()

    def ident(self):
        kind, text, _ = self.peek()
        if kind == "q":
            self.take()
            return text[1:-1]
        if kind != "i" or text.upper() in KEYWORDS:
            self.fail("identifier")
        return self.take()[1]

    def statement(self):
        if self.kw("SELECT"):
            node = self.select()
        elif self.kw("TRUNCATE"):
            pos = self.take()[2]
            self.expect("TABLE")
            node = Node("truncate", pos, table=self.table())
        elif self.kw("DELETE"):
            pos = self.take()[2]
            if self.kw("FROM"):
                self.take()
            node = Node("delete", pos, table=self.table())
            self.expect("WHERE")
            node.where = self.expr()
        else:
            self.fail()
        if self.op(";"):
            self.take()
        if self.peek()[0] != "eof":
            self.fail()
        return node

    def select(self):
        pos = self.take()[2]
        items = []
        while True:
            p = self.peek()[2]
            if self.op("*"):
                self.take()
                items.append(Node("star", p))
            elif self.kw("COUNT") and self.op("(", 1):
                self.take()
                self.take()
                self.expect(o="*")
                self.expect(o=")")
                items.append(Node("count", p, alias=self.alias()))
            else:
                items.append(Node("col", p, name=self.ident(), alias=self.alias()))
            if not self.op(","):
                break
            self.take()
        self.expect("FROM")
        q = Node("select", pos, items=items, table=self.table(), where=None, qualify=None,
                 order=[], limit=None)
        if self.kw("WHERE"):
            self.take()
            q.where = self.expr()
        if self.kw("QUALIFY"):
            self.take()
            q.qualify = self.expr()
        if self.kw("ORDER"):
            self.take()
            self.expect("BY")
            q.order = self.keys()
        if self.kw("LIMIT"):
            self.take()
            if not re.fullmatch(r"\d+", self.peek()[1]):
                self.fail("an integer")
            q.limit = int(self.take()[1])
        return q

    def alias(self):
        if self.kw("AS"):
            self.take()
            return self.ident()
        return None

    def table(self):
        pos = self.peek()[2]
        parts = []
        while True:
            kind, text, _ = self.peek()
            if kind not in ("q", "i"):
                self.fail("a table name")
            self.take()
            parts += text[1:-1].split(".") if kind == "q" else [text]
            if not self.op("."):
                break
            self.take()
        if len(parts) not in (2, 3):
            raise SqlError("Table \"%s\" must be qualified with a dataset (e.g. dataset.table) at %s"
                           % (".".join(parts), line_col(self.sql, pos)))
        return Node("table", pos, parts=parts)

    def keys(self, ordered=True):
        """column [ASC|DESC], ... (just columns when not ordered)."""
        out = []
        while True:
            p = self.peek()[2]
            name = self.ident()
            desc = ordered and self.kw("ASC", "DESC") and self.take()[1].upper() == "DESC"
            out.append(Node("col", p, name=name, desc=desc))
            if not self.op(","):
                return out
            self.take()

    def expr(self):
        e = self.comparison()
        while self.kw("AND"):
            e = Node("and", self.take()[2], a=e, b=self.comparison())
        return e

    def comparison(self):
        e = self.operand()
        kind, text, pos = self.peek()
        if kind == "o" and text in ("=", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            e = Node("cmp", pos, op="!=" if text == "<>" else text, a=e, b=self.operand())
        return e

    def operand(self):
        kind, text, pos = self.peek()
        if kind == "n":
            self.take()
            if text.isdigit():
                return Node("lit", pos, value=int(text), type="INTEGER")
            return Node("lit", pos, value=float(text), type="FLOAT")
        if kind == "s":
            self.take()
            return Node("lit", pos, value=text[1:-1], type="STRING")
        if self.kw("TRUE", "FALSE"):
            self.take()
            return Node("lit", pos, value=text.upper() == "TRUE", type="BOOLEAN")
        if self.op("(") and self.kw("SELECT", k=1):
            self.take()
            q = self.select()
            self.expect(o=")")
            return Node("subquery", pos, query=q)
        if self.kw("ROW_NUMBER") and self.op("(", 1):
            self.take()
            self.take()
            self.expect(o=")")
            self.expect("OVER")
            self.expect(o="(")
            partition, order = [], []
            if self.kw("PARTITION"):
                self.take()
                self.expect("BY")
                partition = self.keys(ordered=False)
            if self.kw("ORDER"):
                self.take()
                self.expect("BY")
                order = self.keys()
            self.expect(o=")")
            return Node("row_number", pos, partition=partition, order=order)
        return Node("col", pos, name=self.ident())


# ---- running --------------------------------------------------------------------

def sort_rows(rows, keys):
    """Sort rows (dicts by lower-case column) by keys, NULLs first ascending, last descending."""
    for k in reversed(keys):
        name = k.name.lower()
        rows.sort(key=lambda r: (r[name] is not None, 0 if r[name] is None else r[name]),
                  reverse=k.desc)


def walk(e):
    yield e
    for child in (getattr(e, "a", None), getattr(e, "b", None)):
        if child is not None:
            yield from walk(child)


class Engine:
    """Runs one statement against a catalog, which provides
    resolve(p, d, t) -> ("TABLE", fields, stored rows) | ("VIEW", query text, project),
    truncate(p, d, t) -> rows removed and delete(p, d, t, predicate on a stored row) ->
    rows removed, all raising the server's own errors (404, streaming buffer and so on)."""

    def __init__(self, catalog, project, sql, depth=0):
        self.catalog = catalog
        self.project = project
        self.sql = sql
        self.depth = depth
        self.scalars = {}

    def error(self, message, node):
        return SqlError("%s at %s" % (message, line_col(self.sql, node.pos)))

    def name(self, table):
        parts = table.parts
        return tuple(parts) if len(parts) == 3 else (self.project, parts[0], parts[1])

    def source(self, table, with_rows):
        """(fields, rows as dicts by lower-case column name, or None)."""
        p, d, t = self.name(table)
        res = self.catalog.resolve(p, d, t)
        if res[0] == "TABLE":
            fields, rows = res[1], res[2]
        else:
            if self.depth >= MAX_VIEW_DEPTH:
                raise self.error("View %s.%s.%s references views nested too deeply" % (p, d, t), table)
            inner = Engine(self.catalog, res[2], res[1], self.depth + 1)
            stmt = Parser(res[1]).statement()
            fields, rows = inner.select(stmt, with_rows)
        if not with_rows:
            return fields, None
        return fields, [{f["name"].lower(): r.get(f["name"]) for f in fields} for r in rows]

    def column(self, cols, node):
        f = cols.get(node.name.lower())
        if f is None:
            raise self.error("Unrecognized name: %s" % node.name, node)
        return f

    def bind(self, e, cols, clause):
        """The type of expression e (names checked against cols)."""
        if e.kind == "lit":
            return e.type
        if e.kind == "col":
            return self.column(cols, e)["type"]
        if e.kind == "subquery":
            fields, _ = self.select(e.query, False)
            if len(fields) != 1:
                raise self.error("Scalar subquery cannot have more than one column unless using "
                                 "SELECT AS STRUCT to build STRUCT values", e)
            return fields[0]["type"]
        if e.kind == "row_number":
            if clause != "QUALIFY":
                raise self.error("Analytic function not allowed in %s clause" % clause, e)
            for c in e.partition + e.order:
                self.column(cols, c)
            return "INTEGER"
        a, b = self.bind(e.a, cols, clause), self.bind(e.b, cols, clause)
        ok = a == b == "BOOLEAN" if e.kind == "and" else \
            a == b or (a in ("INTEGER", "FLOAT") and b in ("INTEGER", "FLOAT"))
        if not ok:
            raise self.error("No matching signature for operator %s for argument types: %s, %s"
                             % ("AND" if e.kind == "and" else e.op, SQL_NAMES[a], SQL_NAMES[b]), e)
        return "BOOLEAN"

    def eval(self, e, row):
        if e.kind == "lit":
            return e.value
        if e.kind == "col":
            return row[e.name.lower()]
        if e.kind == "row_number":
            return row[id(e)]
        if e.kind == "subquery":
            if id(e) not in self.scalars:
                _, rows = self.select(e.query, True)
                if len(rows) > 1:
                    raise self.error("Scalar subquery produced more than one element", e)
                self.scalars[id(e)] = next(iter(rows[0].values())) if rows else None
            return self.scalars[id(e)]
        a, b = self.eval(e.a, row), self.eval(e.b, row)
        if e.kind == "and":
            return False if False in (a, b) else None if None in (a, b) else True
        return None if a is None or b is None else COMPARE[e.op](a, b)

    def delete(self, stmt):
        """Rows removed by DELETE: the catalog gets a predicate on stored rows."""
        p, d, t = self.name(stmt.table)
        kind, fields = self.catalog.resolve(p, d, t)[:2]
        if kind != "TABLE":
            raise self.error("DELETE cannot be applied to the view %s.%s.%s" % (p, d, t), stmt)
        t_where = self.bind(stmt.where, {f["name"].lower(): f for f in fields}, "WHERE")
        if t_where != "BOOLEAN":
            raise self.error("WHERE clause should return type BOOL, but returns %s"
                             % SQL_NAMES[t_where], stmt.where)
        return self.catalog.delete(p, d, t, lambda r: self.eval(stmt.where, {
            f["name"].lower(): r.get(f["name"]) for f in fields}) is True)

    def select(self, q, with_rows):
        """(output fields, rows as dicts by output field name, or None when not with_rows)."""
        fields, rows = self.source(q.table, with_rows)
        cols = {f["name"].lower(): f for f in fields}
        counting = any(it.kind == "count" for it in q.items)
        out = []  # (field, lower-case source column, or None for COUNT(*))
        anonymous = 0
        for it in q.items:
            if it.kind != "count" and counting:
                raise self.error("SELECT list expression references %s which is neither grouped "
                                 "nor aggregated" % ("column " + it.name if it.kind == "col"
                                                     else "columns"), it)
            if it.kind == "star":
                out += [(dict(f), f["name"].lower()) for f in fields]
            elif it.kind == "count":
                out.append(({"name": it.alias or "f%d_" % anonymous, "type": "INTEGER",
                             "mode": "NULLABLE"}, None))
                anonymous += it.alias is None
            else:
                out.append((dict(self.column(cols, it), name=it.alias or it.name), it.name.lower()))
        if counting and (q.qualify is not None or q.order):
            raise self.error("%s: QUALIFY or ORDER BY with COUNT(*)" % UNSUPPORTED, q)
        for clause, e in (("WHERE", q.where), ("QUALIFY", q.qualify)):
            t = self.bind(e, cols, clause) if e is not None else "BOOLEAN"
            if t != "BOOLEAN":
                raise self.error("%s clause should return type BOOL, but returns %s"
                                 % (clause, SQL_NAMES[t]), e)
        for k in q.order:
            if k.name.lower() not in cols and k.name.lower() in (f["name"].lower() for f, _ in out):
                raise self.error("%s: ORDER BY an output alias" % UNSUPPORTED, k)
            self.column(cols, k)
        if not with_rows:
            return [f for f, _ in out], None

        if q.where is not None:
            rows = [r for r in rows if self.eval(q.where, r) is True]
        if q.qualify is not None:
            for w in walk(q.qualify):
                if w.kind == "row_number":
                    parts = {}
                    for r in rows:
                        parts.setdefault(tuple(r[c.name.lower()] for c in w.partition), []).append(r)
                    for members in parts.values():
                        sort_rows(members, w.order)
                        for i, r in enumerate(members):
                            r[id(w)] = i + 1
            rows = [r for r in rows if self.eval(q.qualify, r) is True]
        if counting:
            rows = [{f["name"]: len(rows) for f, _ in out}]
        else:
            sort_rows(rows, q.order)
            rows = [{f["name"]: r[c] for f, c in out} for r in rows]
        return [f for f, _ in out], rows if q.limit is None else rows[:q.limit]


def run(sql, project, catalog):
    """{"statement_type": "SELECT", "fields", "rows"} or
    {"statement_type": "TRUNCATE_TABLE" | "DELETE", "affected": n}."""
    stmt = Parser(sql).statement()
    eng = Engine(catalog, project, sql)
    if stmt.kind == "truncate":
        return {"statement_type": "TRUNCATE_TABLE", "affected": catalog.truncate(*eng.name(stmt.table))}
    if stmt.kind == "delete":
        return {"statement_type": "DELETE", "affected": eng.delete(stmt)}
    fields, rows = eng.select(stmt, True)
    return {"statement_type": "SELECT", "fields": fields, "rows": rows}


def view_schema(sql, project, catalog):
    """The fields of a view's query (checked, not run)."""
    stmt = Parser(sql).statement()
    if stmt.kind != "select":
        raise SqlError("%s: a view's query must be a SELECT" % UNSUPPORTED)
    return Engine(catalog, project, sql).select(stmt, False)[0]
