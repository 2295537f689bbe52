#!/usr/bin/python3
"""test/docker_check.py — checks docker/ without a Docker engine.

CI has no Docker engine, so docker/compose.yaml and docker/Dockerfile are never
run here.  This test checks what can be checked without one:

  - docker/compose.yaml parses, has the services, pins its images, and every
    file, volume, service and condition it names exists or is valid;
  - the topics it creates are f1tel's default topics, parsed from the C source
    (src/shared/endpoints.c, the enriched topic from src/shared/guc.c);
  - docker/postgres-entrypoint.sh passes bash -n (and shellcheck when
    installed), writes only real f1tel settings and refuses to start without
    POSTGRES_PASSWORD;
  - the feed service's f1tel-feed options are in `f1tel-feed --help`, and
    the dash service's f1tel-dash options in `f1tel-dash --help`;
  - docker/Dockerfile runs only the steps test/run-tests.sh runs
    (. test/install-deps.sh, make, make install) and CMDs an existing script;
  - docker/Dockerfile.dockerignore keeps every source file and test/data in
    the build context and the host's build products out.

Each check prints `ok - …` or `not ok - …`; the last line is
`docker: N passed, N failed`; the exit status is 1 if any check failed.
Compose variables take their defaults (${VAR:-default}), whatever the
environment holds.  --root DIR checks another copy of the tree (used to see
each check fail on a broken copy).  Needs Debian's python3-yaml.

    /usr/bin/python3 test/docker_check.py [--root DIR]
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "openf1"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import endpoint_table  # noqa: E402

REQUIRED_SERVICES = ("redpanda", "topics", "postgres", "feed", "dash")
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")

passed = failed = 0


def report(ok, what, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what + (": " + why if why else ""))
    return ok


def skip(what, why):
    global passed
    passed += 1
    print("ok - %s # skip %s" % (what, why))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- compose helpers --------------------------------------------------------

def interpolate(value):
    """Compose interpolation with every variable unset: $$ is $, ${V:-d} is d."""
    def one(m):
        if m.group(0) == "$$":
            return "$"
        body = m.group(1) if m.group(1) is not None else m.group(2)
        for op in (":-", "-", ":?", "?"):
            name, sep, rest = body.partition(op)
            if sep:
                if "?" in op:
                    raise ValueError("required variable %s: %s" % (name, rest))
                return rest
        return ""
    return re.sub(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", one, value)


def words(value):
    """entrypoint/command: a list as is, a string split the way Compose does."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(interpolate(value))
    return [interpolate(str(v)) for v in value]


def environment(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.partition("=")[::2] for e in env)
    return {k: interpolate(str(v if v is not None else "")) for k, v in env.items()}


def depends(svc):
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {name: "service_started" for name in d}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in d.items()}


def volume_specs(svc):
    """(type, source, target) of each volume of a service."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            out.append((v.get("type", "volume"), v.get("source"), v.get("target")))
            continue
        parts = interpolate(v).split(":")
        if len(parts) == 1:
            out.append(("volume", None, parts[0]))
        else:
            src = parts[0]
            kind = "bind" if src.startswith((".", "/", "~")) else "volume"
            out.append((kind, src, parts[1]))
    return out


def image_tag(image):
    """(name, tag, digest) of an image reference."""
    rest, _, digest = image.partition("@")
    last = rest.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else ""
    return (rest[:-len(tag) - 1] if tag else rest), tag, digest


# ---- dockerignore -------------------------------------------------------------

def glob_regex(pattern):
    """A Go filepath.Match pattern, with ** for any number of directories."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            j = pattern.index("]", i)
            out, i = out + pattern[i:j + 1].replace("[!", "[^"), j + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def ignore_rules(text):
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip("/"))
        rules.append((negate, glob_regex(pattern)))
    return rules


def ignored(rules, path):
    """Docker's rule: a path is left out if a pattern matches it or a parent
    directory; the last matching pattern wins (! brings it back)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for negate, rx in rules:
        if any(rx.match(p) for p in prefixes):
            result = not negate
    return result


def source_files(root):
    """The repository's files: git's tracked and untracked-not-ignored ones."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-co", "--exclude-standard"],
                             check=True, capture_output=True, text=True).stdout
        return [f for f in out.splitlines() if os.path.exists(os.path.join(root, f))]
    except (OSError, subprocess.CalledProcessError):
        rules = ignore_rules(read(os.path.join(root, ".gitignore")))
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if x != ".git"]
            for n in names:
                rel = os.path.relpath(os.path.join(d, n), root)
                if not ignored(rules, rel) and not ignored(rules, n):
                    files.append(rel)
        return files


# ---- Dockerfile -----------------------------------------------------------------

def dockerfile_instructions(text):
    """[(INSTRUCTION, arguments)], continuation lines joined, comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        ins, _, args = cur.strip().partition(" ")
        out.append((ins.upper(), args.strip()))
        cur = ""
    return out


def split_and(command):
    """Split a shell command at && outside quotes; None if it has ; | || or &."""
    parts, cur, quote, i = [], "", None, 0
    while i < len(command):
        c = command[i]
        if quote:
            if c == quote:
                quote = None
            cur += c
        elif c in "'\"":
            quote = c
            cur += c
        elif command.startswith("&&", i):
            parts.append(cur.strip())
            cur, i = "", i + 2
            continue
        elif c in ";|&":
            return None
        else:
            cur += c
        i += 1
    parts.append(cur.strip())
    return parts


def build_steps(command):
    """A RUN command as the tests' steps: install-deps, make, make install.
    Returns the list, or a string saying which part is not one of them."""
    parts = split_and(command)
    if parts is None:
        return "uses ; | || or & in %r" % command
    steps = []
    for part in parts:
        try:
            argv = shlex.split(part)
        except ValueError:
            return "cannot parse %r" % part
        if argv[:2] == ["bash", "-c"] and len(argv) == 3:
            inner = build_steps(argv[2])
            if isinstance(inner, str):
                return inner
            steps += inner
        elif len(argv) == 2 and argv[0] in (".", "source") and argv[1] == "test/install-deps.sh":
            steps.append("install-deps")
        elif argv and argv[0] == "make" and all(re.fullmatch(r"-j\S*", a) for a in argv[1:]):
            steps.append("make")
        elif (argv[:1] == ["make"] and argv[-1:] == ["install"]
              and all(re.fullmatch(r"-j\S*", a) for a in argv[1:-1])):
            steps.append("make install")
        else:
            return "%r is not . test/install-deps.sh, make or make install" % part
    return steps


def run_tests_steps(text):
    """The steps test/run-tests.sh runs, in order (first occurrence of each)."""
    pats = {
        "install-deps": r'(?:\.|source)\s+"?(?:\$root/|\$\{root\}/)?test/install-deps\.sh"?',
        "make": r"make(?:\s+-j\S+)?",
        "make install": r"(?:\$SUDO\s+|sudo\s+)?make(?:\s+-j\S+)?\s+install",
    }
    seen = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        for step, pat in pats.items():
            if re.fullmatch(pat, line) and step not in seen:
                seen.append(step)
    return seen


# ---- the C source -----------------------------------------------------------------

def endpoint_topics(root):
    """{endpoint: default topic} from src/shared/endpoints.c, and the number
    of endpoints in the F1EndpointId enum of src/shared/endpoints.h."""
    # the one parser of the table: test/openf1/endpoint_table.py
    found = {e.name: e.topic for e in endpoint_table.load(root)}
    enum = re.search(r"typedef\s+enum\s+(?:F1EndpointId\s*)?\{(.*?)\}\s*F1EndpointId",
                     read(os.path.join(root, "src/shared/endpoints.h")), re.S)
    count = len([m for m in re.findall(r"\bF1E_\w+", enum.group(1)) if m != "F1E_COUNT"]) if enum else -1
    return found, count


def guc_names(root, endpoints):
    src = read(os.path.join(root, "src/shared/guc.c"))
    # a DefineCustom*Variable("f1tel.x", ...) call, or a row {"f1tel.x", ...} of
    # the settings tables that f1tel_define_gucs() defines in a loop
    names = set(re.findall(r'DefineCustom\w+Variable\(\s*"f1tel\.(\w+)"', src))
    names |= set(re.findall(r'\{\s*"f1tel\.(\w+)"\s*,', src))
    for prefix in re.findall(r'psprintf\(\s*"f1tel\.(\w*)%s"\s*,\s*ep->name\s*\)', src):
        names |= {prefix + e for e in endpoints}
    return names, src


# ---- the checks -----------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    root = os.path.abspath(ap.parse_args().root)
    docker = os.path.join(root, "docker")
    repo = lambda *p: os.path.join(root, *p)

    # --- the Dockerfile (first: its WORKDIR maps container paths to the tree)
    dockerfile = repo("docker/Dockerfile")
    ins = dockerfile_instructions(read(dockerfile))
    froms = [a for i, a in ins if i == "FROM"]
    base = froms[0].split()[0] if froms else ""
    ref, tag, digest = image_tag(base)
    report(len(froms) == 1 and ref in ("debian", "docker.io/library/debian") and
           (digest or re.fullmatch(r"(?:12\.\d+|bookworm-\d{8})(?:-slim)?", tag)),
           "Dockerfile: FROM is Debian 12 pinned to a concrete tag (%s)" % base,
           "want debian:12.N or debian:bookworm-YYYYMMDD")
    report(re.search(r"#.*digest", read(dockerfile)) is not None,
           "Dockerfile: a comment says to pin the digest for reproducible builds")
    workdirs = [a for i, a in ins if i == "WORKDIR"]
    workdir = workdirs[-1] if workdirs else "/"
    report(workdir.startswith("/") and workdir != "/", "Dockerfile: WORKDIR is where the tree is copied (%s)" % workdir)
    for i, a in ins:
        if i == "COPY":
            srcs = a.split()[:-1]
            report(all(os.path.exists(repo(s)) for s in srcs), "Dockerfile: COPY %s: the sources exist" % a)
    steps, bad = [], None
    for i, a in ins:
        if i == "RUN":
            s = build_steps(a)
            if isinstance(s, str):
                bad = s
            else:
                steps += s
    report(bad is None and steps == ["install-deps", "make", "make install"],
           "Dockerfile: RUN steps are the tests' steps (. test/install-deps.sh, make, make install)",
           bad or "got %s" % steps)
    ran = run_tests_steps(read(repo("test/run-tests.sh")))
    report(ran == ["install-deps", "make", "make install"],
           "test/run-tests.sh runs the same steps: sources test/install-deps.sh, runs make, make install",
           "found %s" % ran)
    cmds = [a for i, a in ins if i == "CMD"]
    try:
        cmd = json.loads(cmds[-1]) if cmds else []
    except ValueError:
        cmd = []
    script = cmd[0][len(workdir) + 1:] if cmd and cmd[0].startswith(workdir + "/") else (cmd[0] if cmd else "")
    script_ok = bool(script) and os.path.isfile(repo(script)) and os.access(repo(script), os.X_OK)
    report(script_ok, "Dockerfile: CMD (exec form) runs an existing executable script (%s)" % script)
    if script_ok:
        text = read(repo(script))
        unknown = [a for a in cmd[1:] if a.startswith("--") and
                   not re.search(r"[\s|(]" + re.escape(a.split("=")[0]) + r"[|)]", text)]
        report(not unknown, "Dockerfile: CMD's options are %s's" % script, "unknown %s" % unknown)
        report("../shared" not in text,
               "Dockerfile: CMD's script reads no files outside the repository (no ../shared)",
               "%s still refers to ../shared" % script)
    stale = [f for f in ("docker/Dockerfile", "docker/compose.yaml", "docker/postgres-entrypoint.sh")
             if os.path.exists(repo(f)) and re.search(r"\.\./shared|(?<![\w.])/data/openf1", read(repo(f)))]
    report(not stale, "docker/: nothing mounts or reads the sessions from outside the repository", "%s" % stale)

    def in_tree(path):
        """The repository file a container path names, or None."""
        if path.startswith(workdir + "/"):
            return path[len(workdir) + 1:]
        if not path.startswith("/") and re.fullmatch(r"[\w.-]+(?:/[\w.-]+)+/?", path):
            return path
        return None

    # --- compose.yaml
    try:
        compose = yaml.safe_load(read(os.path.join(docker, "compose.yaml")))
        ok = isinstance(compose, dict) and isinstance(compose.get("services"), dict)
        report(ok, "compose.yaml parses as YAML, with services")
    except (OSError, yaml.YAMLError) as e:
        report(False, "compose.yaml parses as YAML", str(e).splitlines()[0])
        ok = False
    if ok:
        check_compose(compose, root, docker, workdir, in_tree)

    # --- the entrypoint
    check_entrypoint(root)

    # --- the dockerignore
    ign = repo("docker/Dockerfile.dockerignore")
    if report(os.path.isfile(ign), "docker/Dockerfile.dockerignore exists"):
        rules = ignore_rules(read(ign))
        files = source_files(root)
        left_out = [f for f in files if ignored(rules, f) and f != "docker/.env"]
        report(files and not left_out, "dockerignore: every source file is in the build context (%d files)" % len(files),
               "left out: %s" % left_out[:5])
        data = [f for f in files if f.startswith("test/data/openf1/")]
        report(data and not any(ignored(rules, f) for f in data),
               "dockerignore: test/data/openf1 is in the build context (%d files)" % len(data))
        products = [".git", "docker/.env", "f1tel.so", "src/shared/guc.o", "src/shared/guc.bc",
                    "src/tools/f1tel-feed", "src/tools/f1tel-broker", "test/unit/fuzz_decode",
                    "f1tel--0.1.sql", "tmp_check/log", "results/x.out"]
        # every unit-test program the Makefile builds (UNIT_TESTS)
        mk = read(repo("Makefile"))
        for var in ("DECODE_UNITS", "SINK_UNITS"):
            m = re.search(r"^%s\s*=\s*((?:.*\\\n)*.*)$" % var, mk, re.M)
            products += re.findall(r"test/unit/\w+", m.group(1)) if m else ["test/unit/(%s not found)" % var]
        kept = [p for p in products if not ignored(rules, p)]
        report(not kept, "dockerignore: the host's build products, git and docker/.env are left out",
               "kept: %s" % kept)

    report(re.search(r"untested here", read(repo("docker/README.md")), re.I) is not None
           if os.path.exists(repo("docker/README.md")) else False,
           "docker/README.md says plainly that compose is untested here")

    print("docker: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def check_compose(compose, root, docker, workdir, in_tree):
    services = compose["services"]
    repo = lambda *p: os.path.join(root, *p)
    report("version" not in compose, "compose.yaml: no version: key (Compose Specification)")
    missing = [s for s in REQUIRED_SERVICES if s not in services]
    report(not missing, "compose.yaml: services %s" % ", ".join(REQUIRED_SERVICES), "missing %s" % missing)
    declared = set((compose.get("volumes") or {}).keys())
    ours = set()        # services running the image of docker/Dockerfile

    for name, svc in services.items():
        svc = svc or {}
        build = svc.get("build")
        if build is not None:
            if isinstance(build, str):
                build = {"context": build}
            ctx = os.path.normpath(os.path.join(docker, build.get("context", ".")))
            df = os.path.normpath(os.path.join(ctx, build.get("dockerfile", "Dockerfile")))
            report(os.path.isdir(ctx) and os.path.isfile(df),
                   "%s: build context %s and dockerfile %s exist" % (
                       name, os.path.relpath(ctx, root), os.path.relpath(df, root)))
            if df == os.path.normpath(repo("docker/Dockerfile")):
                ours.add(name)
        image = svc.get("image")
        if image is None:
            report(build is not None, "%s: has an image or a build" % name)
        else:
            ref, tag, digest = image_tag(interpolate(image))
            concrete = digest or (tag and tag != "latest" and (build is not None or re.search(r"\d", tag)))
            report(bool(concrete), "%s: image %s is pinned to a concrete tag" % (name, image),
                   "untagged, latest or not a release")
    for name, svc in services.items():
        if name not in ours and svc.get("image") and any(
                services[o].get("image") == svc.get("image") for o in ours):
            ours.add(name)

    for name, svc in services.items():
        svc = svc or {}
        for kind, src, target in volume_specs(svc):
            if kind == "bind":
                path = os.path.normpath(os.path.join(docker, os.path.expanduser(src)))
                inside = not os.path.isabs(src) and path.startswith(root + os.sep)
                report(inside and os.path.exists(path),
                       "%s: bind mount %s is a file of the repository" % (name, src))
            elif src is not None:
                report(src in declared, "%s: volume %s is declared under volumes:" % (name, src))
        env_files = svc.get("env_file") or []
        for ef in [env_files] if isinstance(env_files, (str, dict)) else env_files:
            p = ef if isinstance(ef, str) else ef.get("path")
            report(os.path.isfile(os.path.join(docker, p)), "%s: env_file %s exists" % (name, p))
        if name in ours:
            for key in ("entrypoint", "command"):
                for w in words(svc.get(key)):
                    rel = in_tree(w)
                    if rel is not None:
                        report(os.path.exists(repo(rel)), "%s: %s path %s exists in the repository" % (name, key, w))
        for target, cond in depends(svc).items():
            report(target in services, "%s: depends_on %s exists" % (name, target))
            report(cond in CONDITIONS, "%s: depends_on %s condition %s is valid" % (name, target, cond))
            t = services.get(target) or {}
            if cond == "service_healthy":
                report("healthcheck" in t, "%s: %s, awaited healthy, has a healthcheck" % (name, target))
            if cond == "service_completed_successfully":
                report(str(t.get("restart", "no")) == "no", "%s: %s, awaited to complete, does not restart" % (name, target))
        for p in svc.get("ports") or []:
            p = interpolate(str(p)) if not isinstance(p, dict) else "%s:%s" % (p.get("host_ip"), p.get("published"))
            report(p.startswith("127.0.0.1:"), "%s: port %s is published on 127.0.0.1 only" % (name, p))
    if missing:
        return

    rp, topics, pg, feed, dash = (services[s] for s in REQUIRED_SERVICES)
    # the broker address everyone uses is the one redpanda advertises inside the network
    adv = [w for w in words(rp.get("command")) if w.startswith("--advertise-kafka-addr")]
    internal = re.findall(r"internal://([^,\s]+)", " ".join(adv))
    broker = internal[0] if internal else None
    report(broker is not None, "redpanda: advertises an internal Kafka address (%s)" % broker)
    report("healthcheck" in rp and "rpk" in " ".join(words(rp["healthcheck"].get("test"))),
           "redpanda: healthcheck asks rpk")
    report(any(t == "volume" and tg == "/var/lib/redpanda/data" for t, _, tg in volume_specs(rp)),
           "redpanda: its data directory is a named volume")

    # topics: f1tel's defaults, parsed from the C source
    defaults, count = endpoint_topics(root)
    report(len(defaults) == count and count > 0,
           "src/shared/endpoints.c: a default topic for each of the %d endpoints of F1EndpointId" % count,
           "parsed %d: %s" % (len(defaults), sorted(defaults)))
    names, guc_src = guc_names(root, defaults)
    report("ep->default_topic" in guc_src,
           "src/shared/guc.c: f1tel.topic_* defaults are the endpoints' default_topic")
    m = re.search(r'(?:DefineCustomStringVariable\(|\{)\s*"f1tel\.enriched_topic".*?&f1tel_enriched_topic,\s*"([^"]*)"',
                  guc_src, re.S)
    enriched = m.group(1) if m else None
    env = environment(topics)
    created = env.get("F1TEL_TOPICS", "").split()
    compacted = env.get("F1TEL_COMPACTED_TOPICS", "").split()
    report(sorted(created) == sorted(defaults.values()),
           "topics: creates f1tel's default topics (%s)" % " ".join(sorted(defaults.values())),
           "creates %s" % sorted(created))
    report(enriched is not None and compacted == [enriched],
           "topics: creates the upsert topic %s, compacted" % enriched, "compacted %s" % compacted)
    script = " ".join(words(topics.get("entrypoint")) + words(topics.get("command")))
    report(all(s in script for s in ("rpk topic create", "$F1TEL_TOPICS", "$F1TEL_COMPACTED_TOPICS",
                                      "cleanup.policy=compact")),
           "topics: its command creates $F1TEL_TOPICS and $F1TEL_COMPACTED_TOPICS (cleanup.policy=compact) with rpk")
    report("brokers=%s" % broker in script, "topics: rpk talks to %s" % broker)
    report(topics.get("image") == rp.get("image"), "topics: runs the redpanda image")
    report(depends(topics).get("redpanda") == "service_healthy", "topics: starts when redpanda is healthy")

    # postgres
    ep = words(pg.get("entrypoint"))
    report(ep and in_tree(ep[0]) == "docker/postgres-entrypoint.sh" and
           os.access(repo("docker/postgres-entrypoint.sh"), os.X_OK),
           "postgres: entrypoint is docker/postgres-entrypoint.sh, executable")
    report("postgres" in ours, "postgres: built from docker/Dockerfile")
    pgdata = re.search(r"^PGDATA=(\S+)", read(repo("docker/postgres-entrypoint.sh")), re.M)
    report(pgdata and any(t == "volume" and tg == pgdata.group(1) for t, _, tg in volume_specs(pg)),
           "postgres: the entrypoint's PGDATA is a named volume")
    report(environment(pg).get("F1TEL_BROKERS") == broker, "postgres: F1TEL_BROKERS is %s" % broker)
    report(any(interpolate(str(p)).endswith(":5432") for p in pg.get("ports") or []), "postgres: publishes 5432")
    report("pg_isready" in " ".join(words((pg.get("healthcheck") or {}).get("test"))),
           "postgres: healthcheck runs pg_isready")
    report(depends(pg).get("topics") == "service_completed_successfully",
           "postgres: starts when the topics are created")

    check_dash(dash, root, ours)

    # feed
    argv = words(feed.get("command"))
    report("feed" in ours and argv[:1] == ["f1tel-feed"], "feed: runs f1tel-feed in the f1tel image")
    report(depends(feed).get("postgres") == "service_healthy", "feed: starts when postgres is healthy")
    report(str(feed.get("restart")) == "no", 'feed: restart: "no"')
    helptext = feed_help(root)
    if helptext is None:
        report(False, "feed: f1tel-feed --help runs", "src/tools/f1tel-feed could not be built")
        return
    with_arg = {m[0]: bool(m[1]) for m in re.findall(r"(?m)^\s+(-{1,2}[\w-]+)( \S+)?\s{2,}", helptext)}
    dirs, unknown, i = [], [], 1
    while i < len(argv):
        a = argv[i]
        opt = a.split("=")[0] if a.startswith("--") else a[:2] if a.startswith("-") else None
        if opt is None:
            dirs.append(a)
        elif opt not in with_arg:
            unknown.append(a)
        elif with_arg[opt] and a == opt:        # its value is the next word
            if opt == "--brokers" and i + 1 < len(argv):
                report(argv[i + 1] == broker, "feed: --brokers is %s" % broker, "got %s" % argv[i + 1])
            i += 1
        i += 1
    report(not unknown, "feed: every option is one f1tel-feed --help lists", "unknown %s" % unknown)
    report(dirs and all(in_tree(d) and os.path.isdir(repo(in_tree(d))) and
                        any(f.startswith("laps.json") for f in os.listdir(repo(in_tree(d)))) for d in dirs),
           "feed: the session directory %s is in the repository" % " ".join(dirs))


def check_dash(dash, root, ours):
    argv = words(dash.get("command"))
    report("dash" in ours and argv[:1] == ["f1tel-dash"], "dash: runs f1tel-dash in the f1tel image")
    report(depends(dash).get("postgres") == "service_healthy", "dash: starts when postgres is healthy")
    helptext = feed_help(root, "f1tel-dash")
    if helptext is None:
        report(False, "dash: f1tel-dash --help runs", "src/tools/f1tel-dash could not be built")
        return
    known = set(re.findall(r"(?m)^\s+(--[\w-]+)", helptext))
    opts = [a for a in argv[1:] if a.startswith("--")]
    report(opts and all(o in known for o in opts), "dash: every option is one f1tel-dash --help lists",
           "unknown %s" % [o for o in opts if o not in known])
    db = argv[argv.index("--db") + 1] if "--db" in argv[:-1] else ""
    report("host=postgres" in db and "password" not in db,
           "dash: --db names the postgres service and holds no password (PGPASSWORD does)", db)
    ports = [interpolate(str(p)) for p in dash.get("ports") or []]
    report(ports and all(p.startswith("127.0.0.1:") for p in ports), "dash: published on 127.0.0.1 only", ports)


def feed_help(root, program="f1tel-feed"):
    binary = os.path.join(root, "src/tools", program)
    if not os.access(binary, os.X_OK):
        subprocess.run(["make", "-C", root, "-s", "src/tools/" + program], stdout=subprocess.DEVNULL)
    try:
        return subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None


def check_entrypoint(root):
    path = os.path.join(root, "docker/postgres-entrypoint.sh")
    if not report(os.path.isfile(path), "docker/postgres-entrypoint.sh exists"):
        return
    text = read(path)
    report(text.startswith("#!/usr/bin/env bash\n") and re.search(r"(?m)^set -euo pipefail$", text),
           "entrypoint: bash with set -euo pipefail")
    r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
    report(r.returncode == 0, "entrypoint: bash -n", r.stderr.strip())
    if shutil.which("shellcheck"):
        r = subprocess.run(["shellcheck", path], capture_output=True, text=True)
        report(r.returncode == 0, "entrypoint: shellcheck", r.stdout.strip()[:500])
    else:
        skip("entrypoint: shellcheck", "shellcheck is not installed")
    defaults, _ = endpoint_topics(root)
    names, _ = guc_names(root, defaults)
    code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    used = sorted(set(re.findall(r"\bf1tel\.(\w+)", code)))
    unknown = [u for u in used if u not in names]
    report(used and not unknown, "entrypoint: writes only f1tel settings src/shared/guc.c defines (%s)" % ", ".join(used),
           "not GUCs: %s" % unknown)
    report(all(re.search(r"\bsetting %s\b" % s, code) for s in ("f1tel.database", "f1tel.brokers")) and
           re.search(r"\bsetting shared_preload_libraries f1tel\b", code) and
           re.search(r"CREATE EXTENSION IF NOT EXISTS f1tel\b", code) and
           re.search(r"\bexec\b.*\bpostgres\b", code),
           "entrypoint: preloads f1tel, sets f1tel.database and f1tel.brokers, creates the extension, execs postgres")
    report(not re.search(r"POSTGRES_PASSWORD:-[^}]", text), "entrypoint: no default password")
    # Its refusals come before it touches anything.  Run as a non-root user
    # (nobody, when this runs as root), it can do nothing else: it refuses to
    # go on as anyone but root.  The script is given on stdin, so that nobody
    # needs no access to the tree.
    env = {"PATH": "/usr/bin:/bin"}
    pre = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.getuid() == 0 else []
    def run(extra):
        return subprocess.run(pre + ["bash", "-s"], input=text, env=dict(env, **extra), cwd="/",
                              capture_output=True, text=True, timeout=30)
    r = run({})
    report(r.returncode != 0 and "POSTGRES_PASSWORD" in r.stderr,
           "entrypoint: refuses to start without POSTGRES_PASSWORD, saying so", r.stderr.strip()[:200])
    r = run({"POSTGRES_HOST_AUTH_METHOD": "trust"})
    report("must run as root" in r.stderr,
           "entrypoint: POSTGRES_HOST_AUTH_METHOD=trust lets it start without a password "
           "(it goes on to its next check: must run as root)", r.stderr.strip()[:200])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        # a missing file or an unexpected shape: a failure, reported as one
        report(False, "the checks ran to the end", "%s: %s" % (type(e).__name__, e))
        print("docker: %d passed, %d failed" % (passed, failed))
        sys.exit(1)
