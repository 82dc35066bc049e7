"""A minimal QMP client (JSON over QEMU's monitor socket): commands, and events kept for await_event."""
import json
import os
import socket
import threading
import time

from .common import HilError


class Qmp:
    def __init__(self, path, deadline_s=10.0):
        end = time.monotonic() + deadline_s
        self.sock = None
        while self.sock is None:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                self.sock = s
            except OSError:
                s.close()
                if time.monotonic() > end:
                    raise HilError(f"cannot connect to QMP at {path}")
                time.sleep(0.05)  # QEMU is still starting: bounded poll for its socket
        self.file = self.sock.makefile("r")
        self.cv = threading.Condition()
        self.events = []
        self.replies = {}
        self.closed = False
        self.next_id = 0
        greeting = json.loads(self.file.readline())
        if "QMP" not in greeting:
            raise HilError(f"unexpected QMP greeting {greeting}")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.command("qmp_capabilities")

    def _read(self):
        try:
            for line in self.file:
                msg = json.loads(line)
                with self.cv:
                    if "event" in msg:
                        msg["_host_time"] = time.monotonic()
                        self.events.append(msg)
                    elif "id" in msg:
                        self.replies[msg["id"]] = msg
                    self.cv.notify_all()
        except (OSError, ValueError):
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def command(self, name, args=None, timeout=30.0):
        with self.cv:
            self.next_id += 1
            cid = self.next_id
        msg = {"execute": name, "id": cid}
        if args:
            msg["arguments"] = args
        self.sock.sendall((json.dumps(msg) + "\n").encode())
        end = time.monotonic() + timeout
        with self.cv:
            while cid not in self.replies:
                left = end - time.monotonic()
                if self.closed or left <= 0:
                    raise HilError(f"QMP {name}: no reply")
                self.cv.wait(left)
            reply = self.replies.pop(cid)
        if "error" in reply:
            raise HilError(f"QMP {name} failed: {reply['error']}")
        return reply.get("return")

    def await_event(self, name, timeout, since=0.0):
        """The first event `name` received after host time `since` (monotonic), waiting up to timeout."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for e in self.events:
                    if e["event"] == name and e["_host_time"] >= since:
                        return e
                left = end - time.monotonic()
                if self.closed:
                    raise HilError(f"QMP closed (QEMU gone) before event {name} arrived")
                if left <= 0:
                    raise HilError(f"QMP event {name} did not arrive within {timeout} s")
                self.cv.wait(left)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Control:
    """The host -> guest line channel: a unix socket QEMU serves as the guest's ttyS2. The host
    answers HIL-MARK with HIL-ACK <marker> OK|FAIL <why> once that marker's actions are done, and
    HIL-SYNC with HIL-SYNCED once every action is done (the guest waits for it before HIL-EXIT)."""

    def __init__(self, path, deadline_s=10.0):
        end = time.monotonic() + deadline_s
        self.lock = threading.Lock()
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                return
            except OSError:
                self.sock.close()
                if time.monotonic() > end:
                    raise HilError(f"cannot connect to the guest control port at {path}")
                time.sleep(0.05)  # QEMU is still starting: bounded poll for its socket

    def send(self, line):
        with self.lock:
            try:
                self.sock.sendall((line + "\n").encode())
            except OSError:
                pass  # QEMU is gone; the result lines tell what happened

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
