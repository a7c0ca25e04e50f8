#!/usr/bin/env python3
"""commandcenter backend: a small HTTP API (python3 standard library only).

Endpoints
  GET  /               hello + version
  GET  /version        {"version": ...}
  GET  /health         {"status": "ok"|"degraded", "version": ..., "checks": {...}}
                       200 when postgres and redis both answer, 503 otherwise
  GET  /files          names and sizes of the uploaded files (in /app/storage)
  GET  /files/<name>   one uploaded file
  PUT  /files/<name>   upload (store) a file; POST is accepted too

Configuration (environment)
  APP_VERSION                      reported version (baked into the image at build time)
  RELEASE_FILE                     /app/release.json, written at build time by
                                   select-release.py: a release marked `broken` in
                                   RELEASES answers 503 on /health (for failed-deploy demos)
  PORT                             listen port (8000)
  DATABASE_HOST, DATABASE_PORT     postgres (postgres, 5432)
  DATABASE_NAME, DATABASE_USER     database and role (commandcenter)
  DB_PASSWORD                      the role's password
  REDIS_HOST, REDIS_PORT           redis (redis, 6379)
  REDIS_PASSWORD                   optional, sent with AUTH
  STORAGE_DIR                      upload directory (/app/storage)

The health checks run in parallel and are bounded: a stopped service, a refused
connection or a host name that no longer resolves gives an answer in about 2 s at most.

On SIGTERM the server stops accepting connections at once and finishes the requests in
flight (up to 10 s) before it exits, so a reverse proxy that retries on a refused
connection loses no request while containers are replaced. The handler is installed
before anything else (imports, checks, the listening socket): a SIGTERM while the app is
still starting ends it at once, with nothing accepted yet and nothing to finish.
"""

import signal

# The running server once it listens; until then a stop signal simply ends the process.
SERVER = None


def _on_stop(signum, _frame):
    if SERVER is None:
        raise SystemExit(0)
    SERVER.begin_shutdown(signum)


signal.signal(signal.SIGTERM, _on_stop)
signal.signal(signal.SIGINT, _on_stop)

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "unknown")
PORT = int(os.environ.get("PORT", "8000"))
DB_HOST = os.environ.get("DATABASE_HOST", "postgres")
DB_PORT = os.environ.get("DATABASE_PORT", "5432")
DB_NAME = os.environ.get("DATABASE_NAME", "commandcenter")
DB_USER = os.environ.get("DATABASE_USER", "commandcenter")
DB_PASSWORD = os.environ.get("DB_PASSWORD", "")
REDIS_HOST = os.environ.get("REDIS_HOST", "redis")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
REDIS_PASSWORD = os.environ.get("REDIS_PASSWORD", "")
STORAGE_DIR = os.environ.get("STORAGE_DIR", "/app/storage")
RELEASE_FILE = os.environ.get("RELEASE_FILE", "/app/release.json")

CHECK_DEADLINE = 2.0      # seconds for all checks together
DB_CONNECT_TIMEOUT = 2    # libpq connect_timeout (whole seconds)
REDIS_TIMEOUT = 1.0
MAX_UPLOAD = 10 * 1024 * 1024
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def load_release():
    try:
        with open(RELEASE_FILE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


RELEASE = load_release()


def log(msg):
    sys.stdout.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), msg))
    sys.stdout.flush()


def _psql_binary():
    # Prefer the real binary over Debian's perl wrapper in /usr/bin (faster start).
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return found[-1] if found else (shutil.which("psql") or "psql")


PSQL = _psql_binary()


def check_database():
    """A real query: psql -c 'SELECT 1' over TCP with a password."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGPASSWORD": DB_PASSWORD,
        "PGCONNECT_TIMEOUT": str(DB_CONNECT_TIMEOUT),
        "PGAPPNAME": "commandcenter-health",
        "HOME": "/tmp",
    }
    cmd = [PSQL, "-X", "-q", "-A", "-t", "-w",
           "-h", DB_HOST, "-p", str(DB_PORT), "-U", DB_USER, "-d", DB_NAME,
           "-c", "SELECT 1"]
    try:
        res = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=CHECK_DEADLINE)
    except subprocess.TimeoutExpired:
        return "timeout after %.0fs" % CHECK_DEADLINE
    except OSError as e:
        return "cannot run psql: %s" % e
    if res.returncode == 0 and res.stdout.strip() == "1":
        return "ok"
    lines = [l.strip() for l in (res.stderr or res.stdout).splitlines() if l.strip()]
    msg = lines[0] if lines else "psql exited with %d" % res.returncode
    return re.sub(r"^psql: (error: )?", "", msg)[:300]


def _resp_read_line(sock):
    buf = b""
    while not buf.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("connection closed by redis")
        buf += chunk
        if len(buf) > 4096:
            raise ValueError("reply too long")
    return buf[:-2].decode("utf-8", "replace")


def resp_command(sock, *args):
    """Send one RESP command and return the first line of the reply."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return _resp_read_line(sock)


def check_redis():
    """TCP connect + PING -> +PONG, 1 s timeout."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=REDIS_TIMEOUT) as s:
            s.settimeout(REDIS_TIMEOUT)
            if REDIS_PASSWORD:
                reply = resp_command(s, "AUTH", REDIS_PASSWORD)
                if reply != "+OK":
                    return "AUTH failed: %s" % reply
            reply = resp_command(s, "PING")
            return "ok" if reply == "+PONG" else "unexpected reply: %s" % reply[:100]
    except socket.timeout:
        return "timeout after %.0fs" % REDIS_TIMEOUT
    except socket.gaierror as e:
        return "cannot resolve %s: %s" % (REDIS_HOST, e.strerror or e)
    except OSError as e:
        return "%s:%d: %s" % (REDIS_HOST, REDIS_PORT, e.strerror or e)
    except Exception as e:  # noqa: BLE001 - report anything as a failed check
        return str(e) or e.__class__.__name__


def run_checks():
    """Run all checks in parallel daemon threads; whatever has not answered by the
    deadline is reported as a timeout (name resolution cannot be interrupted, so a
    hung lookup is abandoned rather than waited for)."""
    checks = {"database": check_database, "redis": check_redis}
    results = {}
    if RELEASE.get("health") == "broken":
        checks["release"] = lambda: "release %s is broken on purpose (see backend/RELEASES)" % VERSION

    def run(name, fn):
        try:
            results[name] = fn()
        except Exception as e:  # noqa: BLE001
            results[name] = "check failed: %s" % e

    threads = []
    for name, fn in checks.items():
        t = threading.Thread(target=run, args=(name, fn), daemon=True)
        t.start()
        threads.append((name, t))
    deadline = time.monotonic() + CHECK_DEADLINE + 0.2
    for name, t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return {name: results.get(name, "timeout after %.0fs" % CHECK_DEADLINE)
            for name in checks}


class Handler(BaseHTTPRequestHandler):
    server_version = "commandcenter-backend/" + VERSION
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; on a kept-alive connection (HAProxy reuses
    # them) Nagle plus the peer's delayed ACK would hold the body ~40 ms.
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    # ---- plumbing -------------------------------------------------------------
    def log_request(self, code="-", size="-"):
        self._status = code

    def log_message(self, fmt, *args):  # errors from BaseHTTPRequestHandler
        log("%s %s" % (self.client_address[0], fmt % args))

    def _send(self, status, body, content_type="application/json"):
        if not isinstance(body, (bytes, bytearray)):
            body = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self, method):
        start = time.monotonic()
        self._status = "-"
        INFLIGHT.add(1)
        try:
            getattr(self, "_" + method)()
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # noqa: BLE001
            try:
                self._send(500, {"error": "internal error: %s" % e})
            except Exception:  # noqa: BLE001
                pass
        finally:
            INFLIGHT.add(-1)
            log('%s "%s %s" %s %.1fms' % (self.client_address[0], self.command, self.path,
                                          self._status, (time.monotonic() - start) * 1000))

    def do_GET(self):
        self._dispatch("get")

    def do_HEAD(self):
        self._dispatch("get")

    def do_PUT(self):
        self._dispatch("put")

    def do_POST(self):
        self._dispatch("put")

    # ---- routes ---------------------------------------------------------------
    def _get(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, {"service": "commandcenter-backend", "version": VERSION,
                             "message": "hello from commandcenter"})
        elif path == "/version":
            self._send(200, {"version": VERSION})
        elif path == "/health":
            checks = run_checks()
            ok = all(v == "ok" for v in checks.values())
            self._send(200 if ok else 503, {"status": "ok" if ok else "degraded",
                                            "version": VERSION, "checks": checks})
        elif path == "/files":
            files = []
            for name in sorted(os.listdir(STORAGE_DIR)):
                p = os.path.join(STORAGE_DIR, name)
                if os.path.isfile(p):
                    files.append({"name": name, "bytes": os.path.getsize(p)})
            self._send(200, {"files": files})
        elif path.startswith("/files/"):
            name = path[len("/files/"):]
            p = os.path.join(STORAGE_DIR, name)
            if not NAME_RE.match(name) or not os.path.isfile(p):
                self._send(404, {"error": "no such file"})
                return
            with open(p, "rb") as f:
                self._send(200, f.read(), "application/octet-stream")
        else:
            self._send(404, {"error": "not found", "path": path})

    def _put(self):
        path = self.path.split("?", 1)[0]
        if not path.startswith("/files/"):
            self._send(404, {"error": "not found", "path": path})
            return
        name = path[len("/files/"):]
        if not NAME_RE.match(name):
            self._send(400, {"error": "invalid file name"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(411, {"error": "Content-Length required"})
            return
        if length < 0 or length > MAX_UPLOAD:
            self._send(413, {"error": "file too large (max %d bytes)" % MAX_UPLOAD})
            return
        data = self.rfile.read(length)
        tmp = os.path.join(STORAGE_DIR, ".%s.tmp" % name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(STORAGE_DIR, name))
        self._send(201, {"name": name, "bytes": len(data)})


class Counter:
    """Requests being handled, so a shutdown can wait for them."""

    def __init__(self):
        self.n = 0
        self.cond = threading.Condition()

    def add(self, d):
        with self.cond:
            self.n += d
            self.cond.notify_all()

    def wait_zero(self, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: self.n <= 0, timeout)


INFLIGHT = Counter()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Python's default backlog of 5 drops connections under a burst (a proxy retrying
    # elsewhere, a strict client polling): the kernel keeps up to 128 waiting.
    request_queue_size = 128

    def begin_shutdown(self, signum):
        log("received %s, shutting down" % signal.Signals(signum).name)
        # shutdown() waits for serve_forever() (this thread), so call it from another one.
        threading.Thread(target=self.shutdown, daemon=True).start()


def main():
    global SERVER
    os.makedirs(STORAGE_DIR, exist_ok=True)
    server = Server(("0.0.0.0", PORT), Handler)
    SERVER = server
    log("commandcenter backend %s listening on :%d (database %s@%s/%s, redis %s:%d)"
        % (VERSION, PORT, DB_USER, DB_HOST, DB_NAME, REDIS_HOST, REDIS_PORT))
    server.serve_forever(poll_interval=0.2)
    # No new connections from here on (the proxy retries them elsewhere); the requests
    # already being answered finish first.
    server.server_close()
    if not INFLIGHT.wait_zero(10):
        log("stopping with requests still in flight")
    log("stopped")


if __name__ == "__main__":
    main()
