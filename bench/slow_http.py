#!/usr/bin/env python3
"""A tiny HTTP server on 127.0.0.1 for the health benchmark (bench/run, row 6).

  GET /slow  answers 200 after 2 seconds (the one slow check)
  GET /ok    answers 200 at once
  anything else: 404

Usage: slow_http.py PORT_FILE   -- binds a free port, writes it to PORT_FILE, serves until killed.
"""
import http.server
import socketserver
import sys
import time

SLOW_SECONDS = 2.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path == "/slow":
            time.sleep(SLOW_SECONDS)
        if path in ("/slow", "/ok"):
            body = b"ok\n"
            self.send_response(200)
        else:
            body = b"not found\n"
            self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()


if __name__ == "__main__":
    main()
