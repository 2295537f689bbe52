#!/usr/bin/python3
"""test/lib/json_lines.py — print the records of an OpenF1 JSON array file, one per line.

Used by the TAP tests to load the recorded sessions into PostgreSQL with COPY
(FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'), so the expected rows are
computed by PostgreSQL's own input functions (jsonb_populate_record), not by
f1tel's decoder.  Reads .json and .json.gz.  Usage: json_lines.py FILE
"""
import gzip
import json
import sys


def main():
    path = sys.argv[1]
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        records = json.load(f)
    out = sys.stdout
    for r in records:
        out.write(json.dumps(r, separators=(",", ":"), ensure_ascii=False))
        out.write("\n")


if __name__ == "__main__":
    main()
