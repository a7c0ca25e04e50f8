#!/usr/bin/env python3
"""commandcenter worker: a background job loop (python3 standard library only).

Every INTERVAL seconds (2) it increments the Redis key `worker:heartbeats` over a raw
RESP connection and prints one line. When redis is down or its name does not resolve,
it prints the error and tries again on the next tick; it never exits because of redis.

It also touches HEARTBEAT_FILE (/tmp/worker.alive) on every tick, whatever redis says:
the container healthcheck tests that this file is fresh, i.e. that the loop is alive.

Configuration (environment): REDIS_HOST (redis), REDIS_PORT (6379), REDIS_PASSWORD
(optional), WORKER_INTERVAL (2), APP_VERSION.
"""

import os
import signal
import socket
import sys
import threading
import time

VERSION = os.environ.get("APP_VERSION", "unknown")
REDIS_HOST = os.environ.get("REDIS_HOST", "redis")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
REDIS_PASSWORD = os.environ.get("REDIS_PASSWORD", "")
INTERVAL = float(os.environ.get("WORKER_INTERVAL", "2"))
HEARTBEAT_FILE = os.environ.get("HEARTBEAT_FILE", "/tmp/worker.alive")
KEY = "worker:heartbeats"
TIMEOUT = 1.0

stopping = threading.Event()


def log(msg):
    sys.stdout.write("%s worker %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), msg))
    sys.stdout.flush()


def read_line(sock):
    buf = b""
    while not buf.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("connection closed by redis")
        buf += chunk
        if len(buf) > 4096:
            raise ValueError("reply too long")
    return buf[:-2].decode("utf-8", "replace")


def command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    reply = read_line(sock)
    if reply.startswith("-"):
        raise RuntimeError("redis error: %s" % reply[1:])
    return reply


class Redis:
    """One connection, re-opened after any error."""

    def __init__(self):
        self.sock = None

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def incr(self, key):
        if self.sock is None:
            self.sock = socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=TIMEOUT)
            self.sock.settimeout(TIMEOUT)
            if REDIS_PASSWORD:
                command(self.sock, "AUTH", REDIS_PASSWORD)
        reply = command(self.sock, "INCR", key)
        if not reply.startswith(":"):
            raise RuntimeError("unexpected reply to INCR: %r" % reply)
        return int(reply[1:])


def touch(path):
    try:
        with open(path, "a"):
            pass
        os.utime(path, None)
    except OSError as e:
        log("cannot touch %s: %s" % (path, e))


def main():
    def stop(signum, _frame):
        log("received %s, stopping" % signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    log("started, version %s, redis %s:%d, every %gs" % (VERSION, REDIS_HOST, REDIS_PORT, INTERVAL))
    redis = Redis()
    failures = 0
    while not stopping.is_set():
        touch(HEARTBEAT_FILE)
        try:
            n = redis.incr(KEY)
            if failures:
                log("redis is back after %d failed attempt(s)" % failures)
            failures = 0
            log("heartbeat %s=%d" % (KEY, n))
        except Exception as e:  # noqa: BLE001 - keep running whatever happens
            redis.close()
            failures += 1
            if isinstance(e, socket.gaierror):
                detail = "cannot resolve %s: %s" % (REDIS_HOST, e.strerror or e)
            elif isinstance(e, OSError) and e.strerror:
                detail = e.strerror
            else:
                detail = str(e) or e.__class__.__name__
            log("redis unavailable (attempt %d): %s; retrying" % (failures, detail))
        stopping.wait(INTERVAL)
    redis.close()
    log("stopped")


if __name__ == "__main__":
    main()
