"""test/lib/server_proc.py — start and stop a local stand-in server (the
BigQuery one, test/bigquery/server.py; the OpenF1 one, test/openf1/
openf1_server.py) from a Python self-test.

Both print "... ready on http://HOST:PORT" as their first line once
listening; start() returns the process and the port, stop() ends it (TERM,
then KILL after 10 s) and closes its pipes.
"""

import subprocess
import sys


def start(script, *args):
    p = subprocess.Popen([sys.executable, script, "--port", "0"] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "ready on" not in line:
        p.kill()
        raise RuntimeError("server did not start: %s %s" % (line, p.stderr.read()))
    return p, int(line.rsplit(":", 1)[1])


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    p.stdout.close()
    p.stderr.close()
