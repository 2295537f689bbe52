"""test/openf1/endpoint_table.py — the OpenF1 endpoint table, read from src/shared/endpoints.c.

src/shared/endpoints.c is the one endpoint table of f1tel: this module parses it
(stdlib only, so that the local OpenF1 server needs nothing else) and restates
nothing.  test/docker_check.py's endpoint_topics() takes its topics from here.

Rules a reader must know:
  - an endpoint's row is an `EP(F1E_X, "name", "topic", cols, time, ...)` line of
    f1_endpoints[]; `time` is a string literal or NULL (untimed endpoint);
  - its fields are the column constructors of the `cols` array, in order;
    GAP_LAPS()/GAP_Q() columns are f1tel's split of one field, not fields of
    the records, so they are left out;
  - the key (a record's identity) is the KEY* columns, in the array's order;
    race_control has none.
"""
import os
import re
from collections import namedtuple

Endpoint = namedtuple("Endpoint", "name topic time_field keys date_fields fields")

EP_ROW = re.compile(r'^\s*EP\(F1E_\w+\s*,\s*"(\w+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*'
                    r'(NULL|"\w+")', re.M)
COLUMNS = re.compile(r'static\s+const\s+F1Column\s+(\w+)\[\]\s*=\s*\{(.*?)\};', re.S)
COLUMN = re.compile(r'\b([A-Z_]+)\(\s*"(\w+)"')
SKIP = ("GAP_LAPS", "GAP_Q")


def default_root():
    return os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def load(root=None):
    """[Endpoint, ...] in the table's order."""
    path = os.path.join(root or default_root(), "src", "shared", "endpoints.c")
    with open(path, encoding="utf-8") as f:
        src = f.read()
    arrays = {name: COLUMN.findall(body) for name, body in COLUMNS.findall(src)}
    out = []
    for name, topic, cols, time in EP_ROW.findall(src):
        columns = [(m, c) for m, c in arrays.get(cols, []) if m not in SKIP]
        out.append(Endpoint(
            name=name, topic=topic,
            time_field=None if time == "NULL" else time.strip('"'),
            keys=tuple(c for m, c in columns if m.startswith("KEY")),
            date_fields=frozenset(c for m, c in columns if m.endswith("TS")),
            fields=tuple(c for m, c in columns)))
    if not out:
        raise ValueError("%s: no EP(...) rows found" % path)
    return out


if __name__ == "__main__":
    for e in load():
        print(e.name, e.topic, e.time_field, ",".join(e.keys), ",".join(sorted(e.date_fields)))
