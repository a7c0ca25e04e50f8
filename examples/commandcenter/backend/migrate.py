#!/usr/bin/env python3
"""commandcenter's own migration tool (python3 standard library + psql).

  python3 /app/migrate.py up       apply the pending migrations of this release
  python3 /app/migrate.py status   list applied and pending ones; exit 1 when any is pending

The migrations are /app/migrations/YYYYMMDDHHMMSS_name.sql with `-- migrate:up` and
`-- migrate:down` sections (the dbmate format), recorded in `schema_migrations(version)`
as dbmate does. `up` holds a Postgres advisory lock, so two runs never interleave, and
applies each migration in its own transaction: one that fails leaves nothing behind.

ccops runs it with the image being deployed, before the new containers start:
  migrate: { service: backend, command: [python3, /app/migrate.py, up], ... }

Connection: DATABASE_HOST, DATABASE_PORT, DATABASE_NAME, DATABASE_USER, DB_PASSWORD.
"""

import glob
import os
import re
import subprocess
import sys

MIGRATIONS = os.environ.get("MIGRATIONS_DIR", "/app/migrations")
LOCK_KEY = 720513  # pg_advisory_lock key of this tool
NAME_RE = re.compile(r"^(\d{14})_[A-Za-z0-9_.-]+\.sql$")


def psql_binary():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return found[-1] if found else "psql"


def psql(script, capture=False):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/tmp",
        "PGPASSWORD": os.environ.get("DB_PASSWORD", ""),
        "PGCONNECT_TIMEOUT": "5",
        "PGAPPNAME": "commandcenter-migrate",
    }
    cmd = [psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-w",
           "-h", os.environ.get("DATABASE_HOST", "postgres"),
           "-p", os.environ.get("DATABASE_PORT", "5432"),
           "-U", os.environ.get("DATABASE_USER", "commandcenter"),
           "-d", os.environ.get("DATABASE_NAME", "commandcenter")]
    if capture:
        cmd += ["-t", "-A"]
    return subprocess.run(cmd, input=script, text=True, capture_output=capture, env=env)


def migrations():
    out = []
    for path in sorted(glob.glob(os.path.join(MIGRATIONS, "*.sql"))):
        m = NAME_RE.match(os.path.basename(path))
        if m:
            out.append((m.group(1), os.path.basename(path)[:-4], path))
    return out


def up_section(path):
    with open(path) as f:
        text = f.read()
    m = re.search(r"^--\s*migrate:up[^\n]*\n(.*?)(?=^--\s*migrate:down|\Z)", text, re.S | re.M)
    if not m:
        raise SystemExit("%s has no `-- migrate:up` section" % os.path.basename(path))
    return m.group(1)


ENSURE = "SET client_min_messages = warning;\nCREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY);\n"


def applied():
    res = psql(ENSURE + "SELECT version FROM schema_migrations ORDER BY version;\n", capture=True)
    if res.returncode != 0:
        raise SystemExit("cannot read schema_migrations: %s" % res.stderr.strip())
    return {line.strip() for line in res.stdout.splitlines() if line.strip()}


def status():
    done = applied()
    pending = 0
    newest = "none"
    for version, name, _ in migrations():
        if version in done:
            print("applied  %s" % name)
            newest = version
        else:
            print("pending  %s" % name)
            pending += 1
    print("schema version %s (%d applied, %d pending)" % (newest, len(done), pending))
    return 1 if pending else 0


def up():
    done = applied()
    todo = [(v, n, p) for v, n, p in migrations() if v not in done]
    if not todo:
        print("no pending migration")
        return 0
    script = [ENSURE, "DO $$ BEGIN PERFORM pg_advisory_lock(%d); END $$;\n" % LOCK_KEY]
    for version, name, path in todo:
        script.append("\\echo applying %s\n" % name)
        script.append("BEGIN;\n")
        # Another run may have applied it meanwhile: the primary key stops a second copy.
        script.append(up_section(path).rstrip() + "\n;\n")
        script.append("INSERT INTO schema_migrations (version) VALUES ('%s');\n" % version)
        script.append("COMMIT;\n")
    script.append("DO $$ BEGIN PERFORM pg_advisory_unlock(%d); END $$;\n" % LOCK_KEY)
    res = psql("".join(script))
    if res.returncode != 0:
        sys.stderr.write("migration failed; the failing migration was rolled back\n")
        return 1
    print("applied %d migration(s)" % len(todo))
    return 0


def main():
    action = sys.argv[1] if len(sys.argv) > 1 else "status"
    if action == "up":
        return up()
    if action == "status":
        return status()
    sys.stderr.write("usage: migrate.py up|status\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
