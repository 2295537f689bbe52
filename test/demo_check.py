#!/usr/bin/python3
"""test/demo_check.py — runs the README's demo command and checks what it prints.

test/run-tests.sh runs it after `make install`:

    demo_check.py [--session KEY] [--as-user USER] [--timeout S] [--openf1-local]

It runs `test/demo.sh --speed max --no-keep` non-interactively (no TTY, stdin
from /dev/null), as this user or, with --as-user, as USER through sudo from a
copy of the tree that USER owns (the path a user with sudo takes: the demo
itself calls `sudo make install`).  What the demo prints is then checked
against figures computed here from the recorded session's own files
(test/data/openf1/<KEY>, or $F1TEL_DATA), never typed in:

With --openf1-local the demo downloads the session (`--openf1 KEY
--openf1-url URL`) from the local OpenF1 (test/openf1/openf1_server.py,
started here over the same recording), the path of `demo.sh --openf1`; the
expected figures are the same, but car_data records with a null date are
not downloaded at all, rather than dead-lettered (say 9189, which has none).

- the demo exited 0 and said that every partition reached the broker's high
  watermark and that the sinks' backlog is empty;
- per topic, the rows stored and the dead letters: every record of the file,
  except the car_data records with a null date (an incomplete natural key:
  dead letters by design, see test/data/openf1/README.md);
- the final status line shows every lap in driver_laps;
- the leaderboard's first three are the drivers whose latest position.json
  records rank first (for 9189, VER, LEC and PER, as in session_result.json);
- in "BigQuery": driver_laps_latest and driver_laps_latest_session hold one row
  per lap, race_control one per record, driver_laps at least one per lap.

Each check prints `ok - …` or `not ok - …`; the last line is
`demo <KEY>: N passed, N failed`, and the exit status is 1 on any failure.
"""
import argparse
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# {endpoint: default topic}, read from f1tel's one endpoint table
# (src/shared/endpoints.c) by the docker check's parser
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from docker_check import endpoint_topics  # noqa: E402

TOPICS = endpoint_topics(ROOT)[0]


def load(data, session, endpoint):
    base = os.path.join(data, session, endpoint + ".json")
    if os.path.exists(base + ".gz"):
        with gzip.open(base + ".gz", "rt", encoding="utf-8") as f:
            return json.load(f)
    with open(base, encoding="utf-8") as f:
        return json.load(f)


def drivers_of(data, session):
    return {d["driver_number"] for d in load(data, session, "drivers")}


def expected(data, session):
    """What the demo must show, from the files alone."""
    rows, dead = {}, {}
    for endpoint, topic in TOPICS.items():
        if not any(os.path.exists(os.path.join(data, session, endpoint + ext)) for ext in (".json", ".json.gz")):
            continue        # not recorded (intervals, team_radio, championships)
        records = load(data, session, endpoint)
        bad = sum(1 for r in records if endpoint == "car_data" and r.get("date") is None)
        rows[topic] = len(records) - bad
        dead[topic] = bad
    drivers = {d["driver_number"]: d["name_acronym"] for d in load(data, session, "drivers")}
    # the leaderboard ranks by each driver's latest position record (9606 has
    # none for its winner, driver 4: see test/data/openf1/README.md)
    latest = {}
    for r in load(data, session, "position"):
        if r["driver_number"] not in latest or r["date"] >= latest[r["driver_number"]]["date"]:
            latest[r["driver_number"]] = r
    ranked = sorted(latest.values(), key=lambda r: r["position"])
    top3 = [drivers[r["driver_number"]] for r in ranked[:3]]
    return {"rows": rows, "dead": dead, "laps": len(load(data, session, "laps")),
            "race_control": len(load(data, session, "race_control")), "top3": top3}


def table(text, after):
    """The rows of the first psql table printed after the line `after`: lists of cells."""
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith(after))
    except StopIteration:
        return []
    out, seen_rule = [], False
    for line in lines[start + 1:]:
        if re.match(r"^-+(\+-+)*$", line):
            seen_rule = True
            continue
        if not seen_rule:
            continue
        if not line.strip() or re.match(r"^\(\d+ rows?\)$", line):
            break
        out.append([c.strip() for c in line.split("|")])
    return out


def run_demo(session, user, timeout, openf1_url=None):
    cmd = ["./test/demo.sh", "--speed", "max", "--no-keep", "--session", session,
           "--timeout", str(timeout)]
    if openf1_url:
        cmd += ["--openf1", session, "--openf1-url", openf1_url]
    cwd, copy = ROOT, None
    if user:
        # the user's own copy of the tree: the demo builds in it
        copy = tempfile.mkdtemp(prefix="f1tel-demo-check.")
        shutil.copytree(ROOT, os.path.join(copy, "f1tel"), symlinks=True)
        subprocess.run(["chown", "-R", user + ":", copy], check=True)
        cwd = os.path.join(copy, "f1tel")
        # data inside this tree: the copy's own (this tree may be unreadable to USER)
        env_data = os.environ.get("F1TEL_DATA")
        if env_data and os.path.abspath(env_data).startswith(ROOT + os.sep):
            env_data = None
        # su keeps the environment: F1TEL_DATA goes only where it was set outside
        cmd = ["su", user, "-s", "/bin/bash", "-c",
               ("F1TEL_DATA=%s " % shlex.quote(env_data) if env_data else "") + " ".join(cmd)]
    env = dict(os.environ)
    if user:
        env.pop("F1TEL_DATA", None)
    try:
        p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout + 900, env=env)
    finally:
        if copy:
            shutil.rmtree(copy, ignore_errors=True)
    return p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--session", default="9189")
    ap.add_argument("--as-user", help="run the demo as this user (with sudo), from a copy")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--openf1-local", action="store_true",
                    help="the demo's --openf1, from the local OpenF1 over the recording")
    args = ap.parse_args()
    data = os.environ.get("F1TEL_DATA") or os.path.join(ROOT, "test", "data", "openf1")
    want = expected(data, args.session)

    server, url = None, None
    if args.openf1_local:
        portdir = tempfile.mkdtemp(prefix="f1tel-demo-openf1.")
        server = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "test", "openf1", "openf1_server.py"),
                                   "--data", os.path.join(data, args.session),
                                   "--port-file", os.path.join(portdir, "port")],
                                  stdout=subprocess.PIPE, text=True)
        line = server.stdout.readline()
        m = re.search(r"ready on (\S+)", line)
        if not m:
            print("not ok - the local OpenF1 did not start: %r" % line)
            sys.exit(1)
        url = m.group(1) + "/v1"
    try:
        rc, out = run_demo(args.session, args.as_user, args.timeout, url)
    finally:
        if server:
            server.terminate()
            server.wait()
    log = os.path.join(tempfile.gettempdir(), "f1tel-demo-%s%s.log"
                       % (args.session, "-openf1" if url else ""))
    with open(log, "w") as f:
        f.write(out)
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("ok - " if ok else "not ok - ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    who = " as %s" % args.as_user if args.as_user else ""
    check(rc == 0, "demo --speed max --session %s%s exits 0 (got %s; output in %s)"
          % (args.session, who, rc, log))
    check("every partition up to the broker's high watermark, and the sinks' backlog is empty"
          in out, "the demo saw every partition reach the broker's high watermark")

    landed = {r[0]: r for r in table(out, "==== what landed") if len(r) >= 3}
    for topic, n in sorted(want["rows"].items()):
        got = landed.get(topic)
        check(got is not None and got[1] == str(n) and got[2] == str(want["dead"][topic]),
              "%s: %d rows, %d dead letters (printed: %s)"
              % (topic, n, want["dead"][topic], got[1:3] if got else "nothing"))

    finals = re.findall(r"driver_laps (\d+)  queued for the sinks (\d+)", out)
    check(bool(finals) and finals[-1] == (str(want["laps"]), "0"),
          "last status line: driver_laps %d, nothing queued (printed: %s)"
          % (want["laps"], finals[-1] if finals else "nothing"))

    board = table(out, " position | name_acronym")
    board = [r for r in board if len(r) > 1]
    # the header is the line the table starts after; rows follow the rule
    top3 = [r[1] for r in board[:3]]
    check(top3 == want["top3"], "leaderboard top 3 %s (printed: %s)" % (want["top3"], top3))

    bq = dict(re.findall(r"^  (driver_laps\w*|race_control)\s+(\d+) rows$", out, re.M))
    check(bq.get("driver_laps_latest") == str(want["laps"]),
          "BigQuery driver_laps_latest: %d rows (printed: %s)" % (want["laps"], bq.get("driver_laps_latest")))
    check(bq.get("driver_laps_latest_session") == str(want["laps"]),
          "BigQuery driver_laps_latest_session: %d rows (printed: %s)"
          % (want["laps"], bq.get("driver_laps_latest_session")))
    check(int(bq.get("driver_laps", "0")) >= want["laps"],
          "BigQuery driver_laps: at least %d row versions (printed: %s)" % (want["laps"], bq.get("driver_laps")))
    check(bq.get("race_control") == str(want["race_control"]),
          "BigQuery race_control: %d rows (printed: %s)" % (want["race_control"], bq.get("race_control")))

    m = re.search(r"^==== the dashboard: (http://\S+)", out, re.M)
    check(m is not None, "the demo printed the dashboard's URL (%s)" % (m.group(1) if m else "nothing"))
    # the dashboard's tower is f1tel.timing's (printed above it by psql)
    timing = [r for r in table(out, " position | name_acronym | last_lap_duration") if len(r) > 1]
    m = re.search(r"^  (\d+) rows: P\S+ (\w+) P\S+ (\w+) P\S+ (\w+)", out, re.M)
    got = [m.group(2), m.group(3), m.group(4)] if m else None
    check(got is not None and got == [r[1] for r in timing[:3]],
          "the dashboard's tower starts as f1tel.timing does: %s (printed: %s)"
          % ([r[1] for r in timing[:3]], got))
    check(m is not None and int(m.group(1)) == len(drivers_of(data, args.session)),
          "the dashboard's tower has a row per driver (%s)" % (m.group(1) if m else "nothing"))

    if failed:
        print("---- the demo's output (%s):" % log)
        print(out[-6000:])
    print("demo %s: %d passed, %d failed" % (args.session, passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
