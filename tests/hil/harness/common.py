"""Things every part of the harness shares: the cache location, logging, prerequisite checks."""
import fcntl
import os
import shutil
import subprocess
import sys
import contextlib

# ctest's SKIP_RETURN_CODE for "this machine lacks a prerequisite" (developer machines only; CI fails).
SKIP = 77


class HilError(Exception):
    """A failure of the world (missing tool, unreachable mirror, broken cache): reported, not a traceback."""


def log(msg):
    print(f"hil: {msg}", flush=True)


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def cache_dir():
    d = os.environ.get("WDFX_HIL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "wdfx-hil")
    os.makedirs(d, exist_ok=True)
    return d


@contextlib.contextmanager
def cache_lock(name="prepare"):
    """Serialises preparation between concurrent harness runs (ctest -j, a developer and CI)."""
    path = os.path.join(cache_dir(), f".{name}.lock")
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run(cmd, **kw):
    """Runs a command, raising HilError with its output when it fails."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    kw.setdefault("text", True)
    p = subprocess.run(cmd, **kw)
    if p.returncode != 0:
        out = (p.stdout or "").strip()
        raise HilError(f"command failed ({p.returncode}): {' '.join(cmd)}\n{out[-4000:]}")
    return p.stdout


# tool -> Debian package, for the install hint
TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg-deb": "dpkg",
    "mmdebstrap": "mmdebstrap",
    "mkfs.ext4": "e2fsprogs",
    "chroot": "coreutils",
}
FAST_TOOLS = ["qemu-system-x86_64", "busybox", "apt-get", "apt-cache", "dpkg-deb"]
SYSTEM_TOOLS = FAST_TOOLS + ["mmdebstrap", "mkfs.ext4", "chroot"]


def missing_prerequisites(flavour):
    """Returns a list of human-readable problems; empty when this machine can run the flavour."""
    problems = []
    for t in SYSTEM_TOOLS if flavour == "system" else FAST_TOOLS:
        if not shutil.which(t):
            problems.append(f"'{t}' not found (Debian package {TOOLS[t]})")
    bb = shutil.which("busybox")
    if bb and is_dynamic_elf(os.path.realpath(bb)):
        problems.append(f"{bb} is dynamically linked; the guest needs busybox-static")
    if flavour == "system" and os.geteuid() != 0:
        problems.append("the system flavour builds its root file system with mmdebstrap and chroot: run as root")
    return problems


def require_prerequisites(flavour):
    """Exits the process (fail in CI, skip elsewhere) with a clear message when something is missing."""
    problems = missing_prerequisites(flavour)
    if not problems:
        return
    for p in problems:
        print(f"hil: missing prerequisite: {p}", file=sys.stderr)
    hint = "install them with tools/install-deps.sh (as root, Debian bookworm)"
    if in_ci():
        print(f"hil: ERROR: CI=true and the HIL prerequisites are missing; {hint}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"hil: skipping: {hint}", file=sys.stderr, flush=True)
    sys.exit(SKIP)


def is_dynamic_elf(path):
    """True iff the ELF file has a PT_INTERP program header (needs the dynamic loader)."""
    import struct
    with open(path, "rb") as f:
        hdr = f.read(64)
        if hdr[:4] != b"\x7fELF" or hdr[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", hdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 0x36)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", ph, i * phentsize)
        if p_type == 3:  # PT_INTERP
            return True
    return False
