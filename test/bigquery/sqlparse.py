"""Parser of the GoogleSQL subset the local BigQuery server evaluates (see bqsql.py).

tokenize() turns the text into tokens (backtick paths, strings with escapes,
numbers, @named and ? positional parameters); Parser builds a tree of Node
objects (kind + attributes) for one statement, refusing with
SqlError("query shape not supported by the local server: ...") whatever the
evaluator does not model.  Positions are kept for BigQuery-style "[line:col]"
locations in messages.  Ts and to_typed() give TIMESTAMP and NUMERIC values the
Python types the evaluator compares.
"""

import decimal
import re

import bqtypes

UNSUPPORTED = "query shape not supported by the local server"


class SqlError(Exception):
    """A query BigQuery refuses: HTTP status, reason, message."""

    def __init__(self, message, reason="invalidQuery", status=400, location="query"):
        Exception.__init__(self, message)
        self.message = message
        self.reason = reason
        self.status = status
        self.location = location


def unsupported(detail, pos=None, sql=None):
    where = (" at " + line_col(sql, pos)) if (sql is not None and pos is not None) else ""
    return SqlError("%s: %s%s" % (UNSUPPORTED, detail, where))


def line_col(sql, pos):
    if sql is None or pos is None:
        return "[1:1]"
    line = sql.count("\n", 0, pos) + 1
    col = pos - (sql.rfind("\n", 0, pos) + 1) + 1
    return "[%d:%d]" % (line, col)


class Ts(int):
    """A TIMESTAMP value: microseconds since the epoch."""

    def __repr__(self):
        return "Ts(%d)" % int(self)


# ---- tokens --------------------------------------------------------------------

RESERVED = set("""
ALL AND ANY ARRAY AS ASC ASSERT_ROWS_MODIFIED AT BETWEEN BY CASE CAST COLLATE CONTAINS
CREATE CROSS CUBE CURRENT DEFAULT DEFINE DESC DISTINCT ELSE END ENUM ESCAPE EXCEPT
EXCLUDE EXISTS EXTRACT FALSE FETCH FOLLOWING FOR FROM FULL GROUP GROUPING GROUPS HASH
HAVING IF IGNORE IN INNER INTERSECT INTERVAL INTO IS JOIN LATERAL LEFT LIKE LIMIT
LOOKUP MERGE NATURAL NEW NO NOT NULL NULLS OF ON OR ORDER OUTER OVER PARTITION
PRECEDING PROTO QUALIFY RANGE RECURSIVE RESPECT RIGHT ROLLUP ROWS SELECT SET SOME
STRUCT TABLESAMPLE THEN TO TREAT TRUE UNBOUNDED UNION UNNEST USING WHEN WHERE WINDOW
WITH WITHIN OFFSET
""".split())


class Tok:
    __slots__ = ("kind", "value", "pos", "end", "quoted")

    def __init__(self, kind, value, pos, end, quoted=False):
        self.kind = kind      # ident, str, num, op, param, eof
        self.value = value
        self.pos = pos
        self.end = end
        self.quoted = quoted

    def is_kw(self, *words):
        return self.kind == "ident" and not self.quoted and self.value.upper() in words

    def __repr__(self):
        return "Tok(%s,%r)" % (self.kind, self.value)


_OPS = ["<>", "!=", "<=", ">=", "||", "<<", ">>", "=", "<", ">", "(", ")", ",", ".", "*",
        "+", "-", "/", ";", "[", "]", "|", "&", "^", "~"]


def tokenize(sql):
    toks = []
    i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
            continue
        if sql.startswith("--", i) or c == "#":
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise SqlError("Syntax error: Unclosed comment at " + line_col(sql, i))
            i = j + 2
            continue
        if c == "`":
            j = sql.find("`", i + 1)
            if j < 0:
                raise SqlError("Syntax error: Unclosed identifier literal at " + line_col(sql, i))
            toks.append(Tok("ident", sql[i + 1:j], i, j + 1, quoted=True))
            i = j + 1
            continue
        if c in "'\"" or (c in "rRbB" and i + 1 < n and sql[i + 1] in "'\""):
            raw = False
            start = i
            if c in "rRbB":
                raw = c in "rR"
                i += 1
                c = sql[i]
            if sql.startswith(c * 3, i):
                j = sql.find(c * 3, i + 3)
                if j < 0:
                    raise SqlError("Syntax error: Unclosed string literal at " + line_col(sql, start))
                toks.append(Tok("str", sql[i + 3:j], start, j + 3))
                i = j + 3
                continue
            j = i + 1
            buf = []
            while j < n and sql[j] != c:
                if sql[j] == "\\" and not raw and j + 1 < n:
                    esc = sql[j + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(esc, esc))
                    j += 2
                    continue
                if sql[j] == "\n":
                    break
                buf.append(sql[j])
                j += 1
            if j >= n or sql[j] != c:
                raise SqlError("Syntax error: Unclosed string literal at " + line_col(sql, start))
            toks.append(Tok("str", "".join(buf), start, j + 1))
            i = j + 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?").match(sql, i)
            text = m.group(0)
            toks.append(Tok("num", text, i, m.end()))
            i = m.end()
            continue
        if c.isalpha() or c == "_":
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(sql, i)
            toks.append(Tok("ident", m.group(0), i, m.end()))
            i = m.end()
            continue
        if c == "@" and not sql.startswith("@@", i):
            m = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)").match(sql, i)
            if not m:
                raise SqlError("Syntax error: Unexpected \"@\" at " + line_col(sql, i))
            toks.append(Tok("param", m.group(1), i, m.end()))
            i = m.end()
            continue
        if c == "?":
            toks.append(Tok("param", None, i, i + 1))
            i += 1
            continue
        for op in _OPS:
            if sql.startswith(op, i):
                toks.append(Tok("op", op, i, i + len(op)))
                i += len(op)
                break
        else:
            raise SqlError("Syntax error: Illegal input character \"%s\" at %s" % (c, line_col(sql, i)))
    toks.append(Tok("eof", None, n, n))
    return toks


# ---- AST -------------------------------------------------------------------------

class Node:
    def __init__(self, kind, pos=None, **kw):
        self.kind = kind
        self.pos = pos
        self.__dict__.update(kw)

    def __repr__(self):
        items = ", ".join("%s=%r" % (k, v) for k, v in self.__dict__.items() if k not in ("kind", "pos"))
        return "%s(%s)" % (self.kind, items)


AGGREGATES = {"COUNT", "COUNTIF", "SUM", "AVG", "MIN", "MAX", "ANY_VALUE", "LOGICAL_AND",
              "LOGICAL_OR"}
WINDOW_ONLY = {"ROW_NUMBER", "RANK", "DENSE_RANK"}
SCALARS = {"COALESCE", "IFNULL", "LOWER", "UPPER", "LENGTH", "CONCAT", "ABS",
           "CURRENT_TIMESTAMP", "DATE", "TIMESTAMP", "GREATEST", "LEAST"}
TYPE_NAMES = {"INT64": "INTEGER", "INTEGER": "INTEGER", "FLOAT64": "FLOAT", "FLOAT": "FLOAT",
              "NUMERIC": "NUMERIC", "BIGNUMERIC": "BIGNUMERIC", "STRING": "STRING",
              "BOOL": "BOOLEAN", "BOOLEAN": "BOOLEAN", "TIMESTAMP": "TIMESTAMP", "DATE": "DATE",
              "DATETIME": "DATETIME", "TIME": "TIME", "BYTES": "BYTES"}
PARAM_TYPES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "NUMERIC": "NUMERIC",
               "BIGNUMERIC": "BIGNUMERIC", "STRING": "STRING", "BOOL": "BOOLEAN",
               "TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "DATETIME": "DATETIME",
               "TIME": "TIME", "BYTES": "BYTES"}


class Parser:
    def __init__(self, sql, params=None):
        self.sql = sql
        self.toks = tokenize(sql)
        self.i = 0
        self.positional = 0
        self.params = params or {}

    # helpers
    @property
    def tok(self):
        return self.toks[self.i]

    def peek(self, k=1):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self):
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def accept_kw(self, *words):
        if self.tok.is_kw(*words):
            return self.advance()
        return None

    def expect_kw(self, word):
        if not self.tok.is_kw(word):
            self.syntax("Expected keyword %s" % word)
        return self.advance()

    def accept_op(self, op):
        if self.tok.kind == "op" and self.tok.value == op:
            return self.advance()
        return None

    def expect_op(self, op):
        if not (self.tok.kind == "op" and self.tok.value == op):
            self.syntax("Expected \"%s\"" % op)
        return self.advance()

    def describe(self, t):
        if t.kind == "eof":
            return "end of input"
        if t.kind == "ident":
            if t.quoted:
                return "identifier `%s`" % t.value
            if t.value.upper() in RESERVED:
                return "keyword %s" % t.value.upper()
            return "identifier \"%s\"" % t.value
        if t.kind == "str":
            return "string literal \"%s\"" % t.value
        if t.kind == "num":
            return "integer literal \"%s\"" % t.value
        return "\"%s\"" % t.value

    def syntax(self, what=None):
        t = self.tok
        msg = "Unexpected %s" % self.describe(t)
        if what:
            msg = "%s but got %s" % (what, self.describe(t))
        raise unsupported("Syntax error: " + msg, t.pos, self.sql)

    def ident(self):
        t = self.tok
        if t.kind != "ident" or (not t.quoted and t.value.upper() in RESERVED):
            self.syntax("Expected identifier")
        self.advance()
        return t.value

    # statements
    def statement(self):
        t = self.tok
        if t.is_kw("SELECT") or (t.kind == "op" and t.value == "("):
            node = self.query()
        elif t.is_kw("CREATE"):
            node = self.create()
        elif t.is_kw("DROP"):
            node = self.drop()
        elif t.is_kw("TRUNCATE"):
            self.advance()
            self.expect_kw("TABLE")
            path, pos = self.table_path()
            node = Node("truncate", t.pos, path=path, path_pos=pos)
        elif t.is_kw("DELETE"):
            node = self.delete()
        elif t.is_kw("WITH"):
            raise unsupported("WITH clauses", t.pos, self.sql)
        elif t.is_kw("INSERT", "UPDATE", "MERGE"):
            raise unsupported("%s statements (only SELECT, CREATE/DROP VIEW, DROP TABLE, "
                              "TRUNCATE TABLE and DELETE are modelled)" % t.value.upper(),
                              t.pos, self.sql)
        else:
            raise unsupported("statement starting with %s" % self.describe(t), t.pos, self.sql)
        self.accept_op(";")
        if self.tok.kind != "eof":
            if self.tok.kind == "ident":
                raise unsupported("multi-statement scripts or trailing input (%s)"
                                  % self.describe(self.tok), self.tok.pos, self.sql)
            self.syntax("Expected end of input")
        return node

    def create(self):
        start = self.advance()
        replace = False
        if self.accept_kw("OR"):
            self.expect_kw("REPLACE")
            replace = True
        if self.tok.is_kw("TEMP", "TEMPORARY", "MATERIALIZED", "EXTERNAL", "SCHEMA", "FUNCTION",
                          "PROCEDURE", "TABLE", "SNAPSHOT"):
            raise unsupported("CREATE %s (only CREATE VIEW is modelled; create tables with "
                              "tables.insert)" % self.tok.value.upper(), self.tok.pos, self.sql)
        self.expect_kw("VIEW")
        if_not_exists = False
        if self.accept_kw("IF"):
            self.expect_kw("NOT")
            self.expect_kw("EXISTS")
            if_not_exists = True
        if replace and if_not_exists:
            raise SqlError("Syntax error: CREATE VIEW with both OR REPLACE and IF NOT EXISTS "
                           "is not supported at " + line_col(self.sql, start.pos))
        path, pos = self.table_path()
        if self.tok.kind == "op" and self.tok.value == "(":
            raise unsupported("view column lists", self.tok.pos, self.sql)
        description = None
        if self.accept_kw("OPTIONS"):
            self.expect_op("(")
            depth = 1
            while depth and self.tok.kind != "eof":
                t = self.advance()
                if t.kind == "op" and t.value == "(":
                    depth += 1
                elif t.kind == "op" and t.value == ")":
                    depth -= 1
                elif t.is_kw("description") and self.tok.kind == "op" and self.tok.value == "=":
                    self.advance()
                    if self.tok.kind == "str":
                        description = self.advance().value
        self.expect_kw("AS")
        qstart = self.tok.pos
        q = self.query()
        qend = self.toks[self.i - 1].end
        text = self.sql[qstart:qend].strip()
        return Node("create_view", start.pos, path=path, path_pos=pos, replace=replace,
                    if_not_exists=if_not_exists, query=q, text=text, description=description)

    def drop(self):
        start = self.advance()
        kind = None
        if self.accept_kw("VIEW"):
            kind = "VIEW"
        elif self.accept_kw("TABLE"):
            kind = "TABLE"
        else:
            raise unsupported("DROP %s" % self.describe(self.tok), self.tok.pos, self.sql)
        if_exists = False
        if self.accept_kw("IF"):
            self.expect_kw("EXISTS")
            if_exists = True
        path, pos = self.table_path()
        return Node("drop", start.pos, what=kind, path=path, path_pos=pos, if_exists=if_exists)

    def delete(self):
        start = self.advance()
        self.accept_kw("FROM")
        path, pos = self.table_path()
        alias = None
        if self.accept_kw("AS"):
            alias = self.ident()
        elif self.tok.kind == "ident" and not self.tok.is_kw("WHERE") and \
                (self.tok.quoted or self.tok.value.upper() not in RESERVED):
            alias = self.ident()
        if not self.accept_kw("WHERE"):
            raise SqlError("DELETE must have a WHERE clause at " + line_col(self.sql, self.tok.pos))
        where = self.expr()
        return Node("delete", start.pos, path=path, path_pos=pos, alias=alias, where=where)

    def table_path(self):
        """A table name: pieces separated by '.', dashes allowed in unquoted pieces."""
        t = self.tok
        pos = t.pos
        if t.kind != "ident":
            self.syntax("Expected table name")
        pieces = []
        cur = ""
        while True:
            t = self.tok
            if t.kind == "ident" or (t.kind == "num" and cur.endswith("-")):
                cur += t.value
                self.advance()
            else:
                self.syntax("Expected table name")
            nxt = self.tok
            if nxt.kind == "op" and nxt.value == "-" and nxt.pos == self.toks[self.i - 1].end \
                    and not t.quoted:
                cur += "-"
                self.advance()
                continue
            if nxt.kind == "op" and nxt.value == "." and nxt.pos == self.toks[self.i - 1].end:
                pieces.append(cur)
                cur = ""
                self.advance()
                continue
            pieces.append(cur)
            break
        parts = []
        for p in pieces:
            parts.extend(p.split("."))
        if any(p == "" for p in parts):
            raise SqlError("Invalid table name: %s at %s" % (".".join(pieces), line_col(self.sql, pos)))
        return parts, pos

    # queries
    def query(self):
        if self.accept_op("("):
            q = self.query()
            self.expect_op(")")
            # ORDER BY / LIMIT after a parenthesised query
            self.order_limit(q)
            return q
        q = self.select()
        if self.tok.is_kw("UNION", "INTERSECT", "EXCEPT"):
            raise unsupported("set operations (%s)" % self.tok.value.upper(), self.tok.pos, self.sql)
        self.order_limit(q)
        return q

    def order_limit(self, q):
        if self.accept_kw("ORDER"):
            self.expect_kw("BY")
            q.order = self.order_items()
        if self.accept_kw("LIMIT"):
            q.limit = self.int_literal()
            if self.accept_kw("OFFSET"):
                q.offset = self.int_literal()

    def int_literal(self):
        t = self.tok
        if t.kind == "param":
            e = self.primary()
            v = self.params_value(e)
            if not isinstance(v, int):
                raise SqlError("LIMIT expects an integer literal or parameter")
            return v
        if t.kind != "num" or not t.value.isdigit():
            self.syntax("Expected integer literal")
        self.advance()
        return int(t.value)

    def params_value(self, e):
        return e.value if e.kind == "lit" else None

    def order_items(self):
        items = []
        while True:
            e = self.expr()
            desc = False
            if self.accept_kw("DESC"):
                desc = True
            else:
                self.accept_kw("ASC")
            nulls_first = None
            if self.accept_kw("NULLS"):
                if self.accept_kw("FIRST"):
                    nulls_first = True
                else:
                    self.expect_kw("LAST")
                    nulls_first = False
            items.append((e, desc, nulls_first))
            if not self.accept_op(","):
                return items

    def select(self):
        start = self.expect_kw("SELECT")
        q = Node("select", start.pos, distinct=False, items=[], source=None, where=None,
                 group=None, having=None, qualify=None, order=None, limit=None, offset=None)
        if self.accept_kw("DISTINCT"):
            q.distinct = True
        else:
            self.accept_kw("ALL")
        if self.tok.is_kw("AS") and self.peek().is_kw("STRUCT", "VALUE"):
            raise unsupported("SELECT AS STRUCT/VALUE", self.tok.pos, self.sql)
        while True:
            q.items.append(self.select_item())
            if not self.accept_op(","):
                break
            if self.tok.is_kw("FROM"):  # trailing comma is allowed
                break
        if self.accept_kw("FROM"):
            q.source = self.from_item()
            if self.tok.kind == "op" and self.tok.value == ",":
                raise unsupported("comma joins", self.tok.pos, self.sql)
            if self.tok.is_kw("JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS"):
                raise unsupported("JOIN", self.tok.pos, self.sql)
        if self.accept_kw("WHERE"):
            q.where = self.expr()
        if self.accept_kw("GROUP"):
            self.expect_kw("BY")
            q.group = []
            while True:
                q.group.append(self.expr())
                if not self.accept_op(","):
                    break
        if self.accept_kw("HAVING"):
            q.having = self.expr()
        if self.tok.is_kw("WINDOW"):
            raise unsupported("named windows", self.tok.pos, self.sql)
        if self.accept_kw("QUALIFY"):
            q.qualify = self.expr()
        return q

    def select_item(self):
        t = self.tok
        if t.kind == "op" and t.value == "*":
            self.advance()
            return Node("star", t.pos, qualifier=None, exclude=self.star_modifiers())
        if t.kind == "ident" and self.peek().kind == "op" and self.peek().value == "." \
                and self.peek(2).kind == "op" and self.peek(2).value == "*":
            self.advance()
            self.advance()
            self.advance()
            return Node("star", t.pos, qualifier=t.value, exclude=self.star_modifiers())
        e = self.expr()
        alias = None
        if self.accept_kw("AS"):
            alias = self.ident()
        elif self.tok.kind == "ident" and (self.tok.quoted or self.tok.value.upper() not in RESERVED):
            alias = self.ident()
        return Node("item", t.pos, expr=e, alias=alias)

    def star_modifiers(self):
        exclude = []
        if self.accept_kw("EXCEPT"):
            self.expect_op("(")
            while True:
                exclude.append(self.ident())
                if not self.accept_op(","):
                    break
            self.expect_op(")")
        if self.tok.is_kw("REPLACE"):
            raise unsupported("SELECT * REPLACE", self.tok.pos, self.sql)
        return exclude

    def from_item(self):
        t = self.tok
        if t.kind == "op" and t.value == "(":
            self.advance()
            q = self.query()
            self.expect_op(")")
            node = Node("subquery", t.pos, query=q, alias=None)
        elif t.is_kw("UNNEST"):
            raise unsupported("UNNEST", t.pos, self.sql)
        else:
            path, pos = self.table_path()
            if self.tok.kind == "op" and self.tok.value == "(":
                raise unsupported("table-valued functions", self.tok.pos, self.sql)
            node = Node("table", pos, path=path, alias=None)
        if self.tok.is_kw("FOR"):
            raise unsupported("FOR SYSTEM_TIME AS OF", self.tok.pos, self.sql)
        if self.accept_kw("AS"):
            node.alias = self.ident()
        elif self.tok.kind == "ident" and (self.tok.quoted or self.tok.value.upper() not in RESERVED):
            node.alias = self.ident()
        return node

    # expressions
    def expr(self):
        return self.or_expr()

    def or_expr(self):
        e = self.and_expr()
        while self.tok.is_kw("OR"):
            t = self.advance()
            e = Node("or", t.pos, a=e, b=self.and_expr())
        return e

    def and_expr(self):
        e = self.not_expr()
        while self.tok.is_kw("AND"):
            t = self.advance()
            e = Node("and", t.pos, a=e, b=self.not_expr())
        return e

    def not_expr(self):
        if self.tok.is_kw("NOT"):
            t = self.advance()
            return Node("not", t.pos, a=self.not_expr())
        return self.comparison()

    def comparison(self):
        e = self.additive()
        while True:
            t = self.tok
            if t.kind == "op" and t.value in ("=", "!=", "<>", "<", "<=", ">", ">="):
                self.advance()
                op = "!=" if t.value == "<>" else t.value
                e = Node("cmp", t.pos, op=op, a=e, b=self.additive())
                continue
            if t.is_kw("IS"):
                self.advance()
                neg = bool(self.accept_kw("NOT"))
                if self.accept_kw("NULL"):
                    e = Node("isnull", t.pos, a=e, neg=neg)
                elif self.tok.is_kw("TRUE", "FALSE"):
                    val = self.advance().value.upper() == "TRUE"
                    e = Node("istruth", t.pos, a=e, value=val, neg=neg)
                else:
                    self.syntax("Expected NULL, TRUE or FALSE")
                continue
            neg = False
            if t.is_kw("NOT") and self.peek().is_kw("IN", "BETWEEN", "LIKE"):
                self.advance()
                neg = True
                t = self.tok
            if t.is_kw("IN"):
                self.advance()
                self.expect_op("(")
                if self.tok.is_kw("SELECT"):
                    q = self.query()
                    self.expect_op(")")
                    e = Node("in_sub", t.pos, a=e, query=q, neg=neg)
                else:
                    items = []
                    while True:
                        items.append(self.expr())
                        if not self.accept_op(","):
                            break
                    self.expect_op(")")
                    e = Node("in", t.pos, a=e, items=items, neg=neg)
                continue
            if t.is_kw("BETWEEN"):
                self.advance()
                lo = self.additive()
                self.expect_kw("AND")
                hi = self.additive()
                e = Node("between", t.pos, a=e, lo=lo, hi=hi, neg=neg)
                continue
            if t.is_kw("LIKE"):
                self.advance()
                e = Node("like", t.pos, a=e, pattern=self.additive(), neg=neg)
                continue
            return e

    def additive(self):
        e = self.multiplicative()
        while self.tok.kind == "op" and self.tok.value in ("+", "-", "||"):
            t = self.advance()
            e = Node("arith", t.pos, op=t.value, a=e, b=self.multiplicative())
        return e

    def multiplicative(self):
        e = self.unary()
        while self.tok.kind == "op" and self.tok.value in ("*", "/"):
            t = self.advance()
            e = Node("arith", t.pos, op=t.value, a=e, b=self.unary())
        return e

    def unary(self):
        t = self.tok
        if t.kind == "op" and t.value == "-":
            self.advance()
            a = self.unary()
            if a.kind == "lit" and isinstance(a.value, (int, float, decimal.Decimal)) \
                    and not isinstance(a.value, bool):
                return Node("lit", t.pos, value=-a.value, type=a.type)
            return Node("neg", t.pos, a=a)
        if t.kind == "op" and t.value == "+":
            self.advance()
            return self.unary()
        return self.primary()

    def primary(self):
        t = self.tok
        if t.kind == "num":
            self.advance()
            if re.fullmatch(r"\d+", t.value):
                v = int(t.value)
                if v > bqtypes.INT64_MAX:
                    raise SqlError("Invalid integer literal: %s at %s" % (t.value, line_col(self.sql, t.pos)))
                return Node("lit", t.pos, value=v, type="INTEGER")
            return Node("lit", t.pos, value=float(t.value), type="FLOAT")
        if t.kind == "str":
            self.advance()
            return Node("lit", t.pos, value=t.value, type="STRING")
        if t.kind == "param":
            self.advance()
            return self.param(t)
        if t.kind == "op" and t.value == "(":
            self.advance()
            if self.tok.is_kw("SELECT"):
                q = self.query()
                self.expect_op(")")
                return Node("subq", t.pos, query=q)
            e = self.expr()
            if self.tok.kind == "op" and self.tok.value == ",":
                raise unsupported("STRUCT/tuple expressions", self.tok.pos, self.sql)
            self.expect_op(")")
            return e
        if t.kind != "ident":
            self.syntax()
        up = t.value.upper() if not t.quoted else None
        if up in ("TRUE", "FALSE"):
            self.advance()
            return Node("lit", t.pos, value=(up == "TRUE"), type="BOOLEAN")
        if up == "NULL":
            self.advance()
            return Node("lit", t.pos, value=None, type="INTEGER")
        if up in ("TIMESTAMP", "DATE", "DATETIME", "TIME", "NUMERIC", "BIGNUMERIC", "JSON") \
                and self.peek().kind == "str":
            self.advance()
            s = self.advance()
            return typed_literal(up, s.value, s.pos, self.sql)
        if up in ("CAST", "SAFE_CAST"):
            self.advance()
            self.expect_op("(")
            e = self.expr()
            self.expect_kw("AS")
            tn = self.ident().upper()
            if tn not in TYPE_NAMES:
                raise unsupported("CAST to %s" % tn, t.pos, self.sql)
            self.expect_op(")")
            return Node("cast", t.pos, a=e, type=TYPE_NAMES[tn], safe=(up == "SAFE_CAST"))
        if up == "CASE":
            return self.case()
        if up == "CURRENT_TIMESTAMP" and not (self.peek().kind == "op" and self.peek().value == "("):
            self.advance()
            return Node("fn", t.pos, name="CURRENT_TIMESTAMP", args=[], distinct=False, star=False)
        if up in ("EXISTS", "ARRAY", "STRUCT", "EXTRACT", "INTERVAL"):
            raise unsupported(up, t.pos, self.sql)
        if self.peek().kind == "op" and self.peek().value == "(" and not t.quoted:
            return self.call()
        # column reference: a[.b[.c]]
        if not t.quoted and up in RESERVED:
            self.syntax()
        parts = []
        pos = t.pos
        while True:
            name = self.advance().value
            parts.extend(name.split(".") if self.toks[self.i - 1].quoted else [name])
            if self.tok.kind == "op" and self.tok.value == "." and self.peek().kind == "ident":
                self.advance()
                continue
            break
        return Node("col", pos, parts=parts)

    def case(self):
        t = self.advance()
        operand = None
        if not self.tok.is_kw("WHEN"):
            operand = self.expr()
        whens = []
        while self.accept_kw("WHEN"):
            c = self.expr()
            self.expect_kw("THEN")
            whens.append((c, self.expr()))
        default = None
        if self.accept_kw("ELSE"):
            default = self.expr()
        self.expect_kw("END")
        if not whens:
            self.syntax("Expected WHEN")
        return Node("case", t.pos, operand=operand, whens=whens, default=default)

    def call(self):
        t = self.advance()
        name = t.value.upper()
        self.expect_op("(")
        args = []
        distinct = False
        star = False
        if self.tok.kind == "op" and self.tok.value == "*":
            if name != "COUNT":
                self.syntax()
            self.advance()
            star = True
        elif not (self.tok.kind == "op" and self.tok.value == ")"):
            if self.accept_kw("DISTINCT"):
                distinct = True
            while True:
                args.append(self.expr())
                if not self.accept_op(","):
                    break
            if self.tok.is_kw("IGNORE", "RESPECT", "ORDER", "LIMIT"):
                raise unsupported("aggregate modifiers (%s)" % self.tok.value.upper(),
                                  self.tok.pos, self.sql)
        self.expect_op(")")
        fn = Node("fn", t.pos, name=name, args=args, distinct=distinct, star=star)
        if self.tok.is_kw("OVER"):
            self.advance()
            if name not in AGGREGATES and name not in WINDOW_ONLY:
                raise unsupported("window function %s" % name, t.pos, self.sql)
            if self.tok.kind == "ident":
                raise unsupported("named windows", self.tok.pos, self.sql)
            self.expect_op("(")
            partition = []
            order = []
            if self.accept_kw("PARTITION"):
                self.expect_kw("BY")
                while True:
                    partition.append(self.expr())
                    if not self.accept_op(","):
                        break
            if self.accept_kw("ORDER"):
                self.expect_kw("BY")
                order = self.order_items()
            if self.tok.is_kw("ROWS", "RANGE"):
                raise unsupported("window frames", self.tok.pos, self.sql)
            self.expect_op(")")
            if name in AGGREGATES and order:
                raise unsupported("aggregate window functions with ORDER BY (running frames)",
                                  t.pos, self.sql)
            if name in WINDOW_ONLY and args:
                raise SqlError("Number of arguments does not match for function %s at %s"
                               % (name, line_col(self.sql, t.pos)))
            return Node("window", t.pos, fn=fn, partition=partition, order=order)
        if name in WINDOW_ONLY:
            raise SqlError("Analytic function %s cannot be called without an OVER clause at %s"
                           % (name, line_col(self.sql, t.pos)))
        if name not in AGGREGATES and name not in SCALARS:
            raise unsupported("function %s" % name, t.pos, self.sql)
        return fn

    def param(self, t):
        if t.value is None:
            key = self.positional
            self.positional += 1
        else:
            key = t.value.lower()
        if key not in self.params:
            if isinstance(key, int):
                raise SqlError("Query parameter number %d is not defined at %s"
                               % (key + 1, line_col(self.sql, t.pos)))
            raise SqlError("Query parameter '%s' not found at %s" % (t.value, line_col(self.sql, t.pos)))
        value, typ = self.params[key]
        return Node("lit", t.pos, value=value, type=typ)


def typed_literal(kind, text, pos, sql):
    try:
        if kind == "TIMESTAMP":
            return Node("lit", pos, value=Ts(bqtypes.parse_timestamp(text)), type="TIMESTAMP")
        if kind == "DATE":
            return Node("lit", pos, value=bqtypes.parse_date(text), type="DATE")
        if kind == "DATETIME":
            return Node("lit", pos, value=bqtypes.parse_datetime(text), type="DATETIME")
        if kind == "TIME":
            return Node("lit", pos, value=bqtypes.parse_time(text), type="TIME")
        if kind in ("NUMERIC", "BIGNUMERIC"):
            return Node("lit", pos, value=decimal.Decimal(bqtypes.coerce_scalar(kind, text)), type=kind)
        if kind == "JSON":
            return Node("lit", pos, value=bqtypes.coerce_scalar("JSON", text), type="JSON")
    except bqtypes.BadValue:
        pass
    raise SqlError("Invalid %s literal: '%s' at %s" % (kind, text, line_col(sql, pos)))


def parse_params(query_parameters, mode):
    """{name or position: (typed value, type)} from QueryRequest.queryParameters."""
    out = {}
    if not query_parameters:
        return out
    for i, p in enumerate(query_parameters):
        ptype = ((p.get("parameterType") or {}).get("type") or "").upper()
        if ptype in ("ARRAY", "STRUCT", "RANGE"):
            raise SqlError("%s: %s query parameters" % (UNSUPPORTED, ptype))
        t = PARAM_TYPES.get(ptype)
        if t is None:
            raise SqlError("Invalid query parameter type: %s" % ptype, reason="invalid")
        raw = (p.get("parameterValue") or {}).get("value")
        if raw is None:
            val = None
        else:
            try:
                val = to_typed(t, bqtypes.coerce_scalar(t, raw))
            except bqtypes.BadValue:
                raise SqlError("Invalid value for query parameter %s of type %s: %s"
                               % (p.get("name") or i + 1, ptype, raw), reason="invalid")
        key = p["name"].lower() if p.get("name") else i
        out[key] = (val, t)
    return out


# ---- values -----------------------------------------------------------------------

def to_typed(t, v):
    """Stored value -> evaluation value."""
    if v is None:
        return None
    if t == "TIMESTAMP":
        return Ts(v)
    if t in ("NUMERIC", "BIGNUMERIC"):
        return decimal.Decimal(v)
    return v
