"""The per-run initramfs: a newc cpio archive written directly (no root, no cpio tool needed, device
nodes included), uncompressed because QEMU loads it straight into guest memory and decompressing it
under TCG would only cost boot time."""
import os
import re
import shutil
import stat
import subprocess

from .common import HilError, is_dynamic_elf


class Cpio:
    def __init__(self):
        self.entries = {}  # path -> (mode, data or link target, rdev)

    def _parents(self, path):
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d and d not in self.entries:
                self.entries[d] = (stat.S_IFDIR | 0o755, b"", (0, 0))

    def dir(self, path, mode=0o755):
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFDIR | mode, b"", (0, 0))

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        self._parents(path)
        if isinstance(data, str):
            data = data.encode()
        self.entries[path] = (stat.S_IFREG | mode, data, (0, 0))

    def copy(self, path, src, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        if mode is None:
            mode = 0o755 if os.stat(src).st_mode & 0o111 else 0o644
        self.file(path, data, mode)

    def symlink(self, path, target):
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFLNK | 0o777, target.encode(), (0, 0))

    def chardev(self, path, major, minor, mode=0o600):
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (stat.S_IFCHR | mode, b"", (major, minor))

    def tree(self, dst, src):
        for dp, dns, fns in os.walk(src):
            rel = os.path.relpath(dp, src)
            base = dst if rel == "." else f"{dst}/{rel}"
            self.dir(base)
            for fn in fns:
                p = os.path.join(dp, fn)
                if os.path.islink(p):
                    self.symlink(f"{base}/{fn}", os.readlink(p))
                else:
                    self.copy(f"{base}/{fn}", p)

    def write(self, out):
        def pad(n):
            return b"\0" * ((4 - n % 4) % 4)

        with open(out, "wb") as f:
            ino = 1
            for path in sorted(self.entries):
                mode, data, (maj, mnr) = self.entries[path]
                name = path.encode() + b"\0"
                hdr = "070701" + "".join(f"{x:08x}" for x in (
                    ino, mode, 0, 0, 1, 0, len(data), 0, 0, maj, mnr, len(name), 0))
                f.write(hdr.encode() + name + pad(110 + len(name)) + data + pad(len(data)))
                ino += 1
            name = b"TRAILER!!!\0"
            hdr = "070701" + "".join(f"{x:08x}" for x in (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(name), 0))
            f.write(hdr.encode() + name + pad(110 + len(name)))


def add_busybox(c):
    bb = os.path.realpath(shutil.which("busybox"))
    c.copy("bin/busybox", bb, 0o755)
    out = subprocess.run([bb, "--list-full"], stdout=subprocess.PIPE, text=True, check=True).stdout
    for applet in out.split():
        if applet != "bin/busybox":
            c.symlink(applet, "/bin/busybox")
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)


def add_modules(c, kernel, prefix=""):
    kver = kernel["kver"]
    c.tree(f"{prefix}lib/modules/{kver}", os.path.join(kernel["modules_root"], "lib", "modules", kver))


def ldd_closure(binary):
    """Shared libraries (and the dynamic loader) a dynamic executable needs, as absolute host paths.
    libpci and libsystemd ship no static archives, so payloads linking them travel with these."""
    p = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise HilError(f"ldd {binary} failed: {p.stdout.strip()}")
    libs = []
    for line in p.stdout.splitlines():
        if "not found" in line:
            raise HilError(f"{binary}: {line.strip()}")
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def add_program(c, prog, root="", have=lambda p: False):
    """Copies a program into <root>hil/bin; a dynamic one brings its ldd closure (and the loader) at
    the same absolute paths under <root>, skipping libraries the root file system already has."""
    c.copy(f"{root}hil/bin/{os.path.basename(prog)}", prog, 0o755)
    if not is_dynamic_elf(prog):
        return []
    libs = ldd_closure(prog)
    for lib in libs:
        if not have(lib):
            c.copy(root + lib.lstrip("/"), os.path.realpath(lib), 0o755)
    return libs
