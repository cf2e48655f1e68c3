#!/usr/bin/env python3
"""qmp.py SOCKET EVENTS: a QMP client for e2e scenarios, run as a bash coprocess.

Waits (up to 60 s) for SOCKET, prints the server's greeting line, then for each line on stdin
(a JSON command) prints the server's reply on one line. Every asynchronous event is appended to
the file EVENTS as it arrives, also after stdin closed, until the server hangs up. One connection
for the whole run: QEMU serves one client per QMP socket."""
import json
import os
import select
import socket
import sys
import time


def main():
    path, events = sys.argv[1], sys.argv[2]
    end = time.time() + 60
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            s.connect(path)
            break
        except OSError:
            if time.time() > end:
                print('{"error": "cannot connect"}', flush=True)
                return 1
            time.sleep(0.1)
    buf = b""
    stdin_open = True
    greeted = False
    with open(events, "a") as ev:
        while True:
            fds = [s] + ([sys.stdin] if stdin_open and greeted else [])
            r, _, _ = select.select(fds, [], [])
            if sys.stdin in r:
                line = sys.stdin.readline()
                if not line:
                    stdin_open = False
                else:
                    s.sendall(line.encode())
            if s in r:
                data = s.recv(65536)
                if not data:
                    return 0
                buf += data
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    msg = json.loads(raw)
                    if "event" in msg:
                        ev.write(json.dumps(msg) + "\n")
                        ev.flush()
                    else:
                        greeted = True
                        print(json.dumps(msg), flush=True)


if __name__ == "__main__":
    sys.exit(main())
