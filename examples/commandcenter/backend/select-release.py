#!/usr/bin/env python3
"""Build step: make this image release APP_VERSION (argv[1]).

Looks the version up in RELEASES, deletes the migrations newer than the release's newest
one (so each version carries exactly its own schema), and writes /app/release.json,
which app.py reads. An unknown version stops the build with a message.
"""

import json
import os
import sys

APP = os.path.dirname(os.path.abspath(__file__))


def main():
    version = sys.argv[1] if len(sys.argv) > 1 else ""
    releases = {}
    with open(os.path.join(APP, "RELEASES")) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                releases[line[0]] = {"newest_migration": line[1], "health": line[2]}
    if version not in releases:
        sys.stderr.write("unknown release %r: this image can be built as %s (see backend/RELEASES)\n"
                         % (version, ", ".join(sorted(releases))))
        return 1
    rel = releases[version]
    mdir = os.path.join(APP, "migrations")
    for name in sorted(os.listdir(mdir)):
        if name[:14] > rel["newest_migration"]:
            os.remove(os.path.join(mdir, name))
    kept = sorted(os.listdir(mdir))
    with open(os.path.join(APP, "release.json"), "w") as f:
        json.dump({"version": version, "health": rel["health"], "migrations": kept}, f)
    print("release %s: %d migration(s), health %s" % (version, len(kept), rel["health"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
