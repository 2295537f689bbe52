"""test/bench/flink/backlog.py: time-ordered clones of recorded OpenF1 sessions,
for a backlog the Flink peer (job.py, driven by ../flink_peer.py) can read.

The job is event-time: a clone fed after the original (f1tel-feed
--session-key-offset) carries times its watermark has already passed, so
its laps are never joined (measured: 205 of 2,128 laps of a second copy).
make_backlog() shifts each clone in time instead, and one f1tel-feed run
of the folders it returns (it merges them by time) gives topics in time
order that f1tel and the peer both ingest. Only the four endpoints the job
reads are written. Used as flink_peer.make_backlog, or:
    python3 backlog.py OUT_DIR CLONES [SESSION_DIR...]   (prints the folders)
"""

import datetime
import json
import os
import sys

# The four endpoints the job reads, and each one's time field
BACKLOG_ENDPOINTS = {"laps": "date_start", "position": "date", "drivers": None, "race_control": "date"}
CLONE_SHIFT = datetime.timedelta(days=730)


def make_backlog(src_dirs, clones, out_dir):
    """Time-ordered clones of recorded sessions for one f1tel-feed run.

    The job is event-time: a clone fed after the original (f1tel-feed
    --session-key-offset) has times the watermark has passed, so its laps
    are never joined. Clone k here is each session of src_dirs with
    session_key and meeting_key + k * 100000 and every time + k * 730 days
    (9189 is 2023-11-19, 9606 2024-09-22: the clones follow each other), as
    <out_dir>/<session_key>/<endpoint>.json with the four endpoints only.
    Returns the folders, in order, to pass to one f1tel-feed --endpoints
    laps,position,drivers,race_control run (it merges them by time)."""
    out = []
    for k in range(clones):
        for src in src_dirs:
            recs = {}
            for ep, tcol in BACKLOG_ENDPOINTS.items():
                with open(os.path.join(src, ep + ".json")) as f:
                    recs[ep] = json.load(f)
                for r in recs[ep]:
                    for key in ("session_key", "meeting_key"):
                        if r.get(key) is not None:
                            r[key] += k * 100000
                    if k and tcol and r.get(tcol):
                        t = datetime.datetime.fromisoformat(r[tcol]) + k * CLONE_SHIFT
                        spec = "microseconds" if "." in r[tcol] else "seconds"
                        r[tcol] = t.isoformat(timespec=spec)
            skey = next(r["session_key"] for r in recs["laps"])
            d = os.path.join(out_dir, str(skey))
            os.makedirs(d, exist_ok=True)
            for ep, rs in recs.items():
                with open(os.path.join(d, ep + ".json"), "w") as f:
                    json.dump(rs, f, separators=(",", ":"))
            out.append(d)
    return out


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    srcs = sys.argv[3:] or [os.path.join(here, "..", "..", "data", "openf1", k) for k in ("9189", "9606")]
    print(" ".join(make_backlog([os.path.normpath(d) for d in srcs], int(sys.argv[2]), sys.argv[1])))
