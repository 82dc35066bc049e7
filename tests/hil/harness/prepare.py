"""Preparation of the cached guest: Debian's current kernel (pruned) and the systemd root file system.

Cache layout (${WDFX_HIL_CACHE:-$HOME/.cache/wdfx-hil}):
  debs/linux-image-<abi>_<version>_amd64.deb   the kernel package as downloaded (offline reuse)
  kernel/<abi>_<version>_<modset>/              vmlinux (ELF, PVH boot), lib/modules/<kver>/ pruned to
                                                MODULES and their dependencies, modules.dep, kernel.json
  rootfs/<key>/                                 mmdebstrap output (systemd, udev, user hil in group wdfx)
  rootfs/<key>+<kver>_<modset>.img              ext4 image of that tree plus the kernel's modules
Every entry is built in a temporary sibling and renamed into place, so an interrupted run leaves no
half-made entry; a lock file serialises concurrent preparations."""
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
import time

from .common import HilError, cache_dir, cache_lock, log, run

# Modules the guests may load. Dependencies (modinfo depends=) are added automatically. Changing this
# list changes the cache key, so the next run re-prunes from the cached .deb.
MODULES = [
    "vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core", "vfio_virqfd", "irqbypass",
    "uio", "uio_pci_generic",
    "virtio_pci", "virtio_blk", "ext4", "crc32c_generic",
    "nvme", "e1000e",
    "fuse", "cuse",  # CUSE device interfaces (tests/hil_iface)
]

META_PACKAGE = "linux-image-amd64"
ROOTFS_SUITE = "bookworm"
ROOTFS_PACKAGES = ["systemd", "systemd-sysv", "udev", "kmod", "passwd", "libcap2-bin",
                   "libpci3", "liburing2", "pciutils"]
# Bump when the customisation of the root file system below changes.
ROOTFS_RECIPE = "3"


def modname(filename):
    base = os.path.basename(filename)
    for ext in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if base.endswith(ext):
            base = base[: -len(ext)]
            break
    return base.replace("-", "_")


# ---------------------------------------------------------------------------------------------------
# kernel package resolution


def _apt_lines(args):
    p = subprocess.run(["apt-cache"] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p.stdout if p.returncode == 0 else ""


def resolve_kernel_package():
    """(package, version) of the ABI package linux-image-amd64 currently depends on, or None."""
    for attempt in range(2):
        m = re.search(r"Depends:\s*(linux-image-[0-9]\S*-amd64)\b", _apt_lines(["depends", META_PACKAGE]))
        if m:
            pkg = m.group(1)
            v = re.search(r"^Version:\s*(\S+)", _apt_lines(["show", "--no-all-versions", pkg]), re.M)
            if v:
                return pkg, v.group(1)
        if attempt == 0 and os.geteuid() == 0:
            log("apt-cache does not know linux-image-amd64; running apt-get update once")
            subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return None


def _modset_key():
    return hashlib.sha256(" ".join(sorted(MODULES)).encode()).hexdigest()[:8]


def _cached_kernels():
    root = os.path.join(cache_dir(), "kernel")
    if not os.path.isdir(root):
        return []
    out = []
    for d in os.listdir(root):
        p = os.path.join(root, d)
        if d.endswith("_" + _modset_key()) and os.path.exists(os.path.join(p, "kernel.json")):
            out.append(p)
    return sorted(out, key=os.path.getmtime)


RESOLVED_MAX_AGE_S = 3600


def _resolved_path():
    return os.path.join(cache_dir(), "kernel", "resolved.json")


def prepare_kernel(fresh=True):
    """Returns the kernel info dict (see kernel.json) of a ready, cached, pruned kernel.
    fresh=False (a boot) reuses a resolution of linux-image-amd64 younger than an hour, so boots do
    not each spend a second or more in apt-cache; `hil.py prepare` (fresh) always asks apt."""
    with cache_lock():
        resolved = None
        if not fresh:
            try:
                with open(_resolved_path()) as f:
                    r = json.load(f)
                if time.time() - r["time"] < RESOLVED_MAX_AGE_S:
                    resolved = (r["package"], r["version"])
            except (OSError, ValueError, KeyError):
                pass
        if resolved is None:
            resolved = resolve_kernel_package()
            if resolved is not None:
                os.makedirs(os.path.dirname(_resolved_path()), exist_ok=True)
                with open(_resolved_path() + ".tmp", "w") as f:
                    json.dump({"package": resolved[0], "version": resolved[1], "time": time.time()}, f)
                os.replace(_resolved_path() + ".tmp", _resolved_path())
        if resolved is None:
            cached = _cached_kernels()
            if cached:
                log(f"cannot resolve {META_PACKAGE} (offline?); using the cached {os.path.basename(cached[-1])}")
                return load_kernel(cached[-1])
            raise HilError(f"cannot resolve {META_PACKAGE} through apt-cache and nothing is cached; "
                           "run 'apt-get update' (and tools/install-deps.sh) first")
        pkg, version = resolved
        kdir = os.path.join(cache_dir(), "kernel", f"{pkg}_{version}_{_modset_key()}")
        if os.path.exists(os.path.join(kdir, "kernel.json")):
            return load_kernel(kdir)
        t0 = time.monotonic()
        deb = _download(pkg, version)
        t1 = time.monotonic()
        _extract_pruned(deb, kdir, pkg, version)
        log(f"kernel {pkg} {version} ready in {kdir} (download {t1 - t0:.1f} s, prune {time.monotonic() - t1:.1f} s)")
        _drop_stale(os.path.join(cache_dir(), "kernel"), keep=os.path.basename(kdir))
        _drop_stale(os.path.join(cache_dir(), "debs"), keep=os.path.basename(deb))
        return load_kernel(kdir)


def load_kernel(kdir):
    with open(os.path.join(kdir, "kernel.json")) as f:
        info = json.load(f)
    info["dir"] = kdir
    info["vmlinux"] = os.path.join(kdir, info["image"])
    info["modules_root"] = kdir  # contains lib/modules/<kver>
    return info


def _drop_stale(parent, keep):
    """Keeps the cache bounded: one kernel (.deb and pruned tree) at a time."""
    if not os.path.isdir(parent):
        return
    for d in os.listdir(parent):
        if d != keep and not d.startswith(".") and d.startswith("linux-image-"):
            p = os.path.join(parent, d)
            log(f"dropping stale cache entry {p}")
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)


def _download(pkg, version):
    debs = os.path.join(cache_dir(), "debs")
    os.makedirs(debs, exist_ok=True)
    name = f"{pkg}_{version.replace(':', '%3a')}_amd64.deb"
    path = os.path.join(debs, name)
    if os.path.exists(path):
        return path
    log(f"downloading {pkg}={version}")
    tmp = tempfile.mkdtemp(dir=debs, prefix=".dl-")
    try:
        run(["apt-get", "download", "-q", f"{pkg}={version}"], cwd=tmp)
        got = [f for f in os.listdir(tmp) if f.endswith(".deb")]
        if len(got) != 1:
            raise HilError(f"apt-get download {pkg} produced {got}")
        os.rename(os.path.join(tmp, got[0]), path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


# ---------------------------------------------------------------------------------------------------
# pruning


def modinfo(data):
    """key -> [values] from the .modinfo section of a kernel module (an ELF64 relocatable)."""
    if data[:4] != b"\x7fELF":
        raise HilError("not an ELF module")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def sh(i):
        return struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)  # name,type,flags,addr,off,size

    stroff = sh(shstrndx)[4]
    info = {}
    for i in range(shnum):
        name_off, _, _, _, off, size = sh(i)
        end = data.index(b"\0", stroff + name_off)
        if data[stroff + name_off:end] == b".modinfo":
            for entry in data[off:off + size].split(b"\0"):
                if b"=" in entry:
                    k, v = entry.decode(errors="replace").split("=", 1)
                    info.setdefault(k, []).append(v)
    return info


def _decompress_module(name, data):
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".gz"):
        import gzip
        return gzip.decompress(data)
    if name.endswith(".zst"):
        return subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return data


def extract_vmlinux(bzimage):
    """The ELF vmlinux inside Debian's xz-compressed bzImage: QEMU boots it through PVH, which saves the
    5-6 s the guest would spend decompressing itself under TCG."""
    magic = b"\xfd7zXZ\x00"
    pos = bzimage.find(magic)
    while pos >= 0:
        try:
            d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
            out = d.decompress(bzimage[pos:])
            if out[:4] == b"\x7fELF":
                return out
        except lzma.LZMAError:
            pass
        pos = bzimage.find(magic, pos + 1)
    return None


def _extract_pruned(deb, kdir, pkg, version):
    """Streams the package's data tarball once, keeping vmlinuz and the module closure of MODULES."""
    parent = os.path.dirname(kdir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".prune-")
    try:
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
        modules = {}  # modname -> (relpath under lib/modules/<kver>, raw bytes)
        vmlinuz = None
        kver = None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            for m in tf:
                if not m.isfile():
                    continue
                n = m.name.lstrip("./")
                if re.match(r"boot/vmlinuz-", n):
                    vmlinuz = tf.extractfile(m).read()
                    kver = n[len("boot/vmlinuz-"):]
                mm = re.match(r"(?:usr/)?lib/modules/([^/]+)/(.*\.ko(?:\.xz|\.zst|\.gz)?)$", n)
                if mm:
                    modules[modname(n)] = (mm.group(2), n, tf.extractfile(m).read())
        if proc.wait() != 0:
            raise HilError(f"dpkg-deb --fsys-tarfile {deb} failed")
        if not vmlinuz or not kver:
            raise HilError(f"{deb} has no /boot/vmlinuz-*")

        # Closure over depends= (hard) and softdep= entries that name real modules (ext4 -> crc32c is an
        # alias, hence crc32c_generic in MODULES).
        want = [m.replace("-", "_") for m in MODULES]
        keep, infos = set(), {}
        while want:
            m = want.pop()
            if m in keep:
                continue
            if m not in modules:
                raise HilError(f"module {m} not found in {pkg} (built in? renamed?)")
            keep.add(m)
            rel, name, raw = modules[m]
            data = _decompress_module(name, raw)
            info = modinfo(data)
            infos[m] = (rel, data)
            for dep in ",".join(info.get("depends", [])).split(","):
                if dep:
                    want.append(dep.replace("-", "_"))
            for sd in info.get("softdep", []):
                for tok in sd.split():
                    if not tok.endswith(":") and tok.replace("-", "_") in modules:
                        want.append(tok.replace("-", "_"))

        mroot = os.path.join(tmp, "lib", "modules", kver)
        for m, (rel, data) in infos.items():
            rel = re.sub(r"\.ko\.(xz|zst|gz)$", ".ko", rel)
            dst = os.path.join(mroot, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(data)
        # busybox depmod writes the modules.dep that busybox modprobe reads in the initramfs.
        run(["busybox", "depmod", "-b", tmp, kver])

        vmlinux = extract_vmlinux(vmlinuz)
        if vmlinux is not None:
            image = "vmlinux"
            with open(os.path.join(tmp, image), "wb") as f:
                f.write(vmlinux)
        else:
            log("warning: no ELF vmlinux inside vmlinuz; booting the compressed bzImage (slower)")
            image = "vmlinuz"
            with open(os.path.join(tmp, image), "wb") as f:
                f.write(vmlinuz)
        with open(os.path.join(tmp, "kernel.json"), "w") as f:
            json.dump({"package": pkg, "version": version, "kver": kver, "image": image,
                       "modules": sorted(keep)}, f, indent=1)
        if os.path.exists(kdir):
            shutil.rmtree(kdir)
        os.rename(tmp, kdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------------
# systemd root file system


def _mirror():
    return os.environ.get("WDFX_HIL_MIRROR", "http://deb.debian.org/debian")


def _rootfs_key():
    s = json.dumps([ROOTFS_SUITE, ROOTFS_PACKAGES, ROOTFS_RECIPE, _mirror()])
    return f"{ROOTFS_SUITE}-{hashlib.sha256(s.encode()).hexdigest()[:10]}"


def prepare_rootfs(kernel):
    """Returns the path of the cached ext4 image (systemd root file system + the kernel's modules).
    The image is booted with snapshot=on, so it is never modified by a run."""
    with cache_lock():
        root = os.path.join(cache_dir(), "rootfs")
        os.makedirs(root, exist_ok=True)
        key = _rootfs_key()
        tree = os.path.join(root, key)
        # The image holds the pruned modules: a change of MODULES (the modset key) rebuilds it.
        img = os.path.join(root, f"{key}+{kernel['kver']}_{_modset_key()}.img")
        if os.path.exists(img):
            return img
        if not os.path.exists(os.path.join(tree, ".complete")):
            _mmdebstrap(tree)
        _build_image(tree, img, kernel)
        for d in os.listdir(root):  # one root file system and image at a time
            if not d.startswith(".") and d not in (key, os.path.basename(img)):
                p = os.path.join(root, d)
                log(f"dropping stale cache entry {p}")
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        return img


def _mmdebstrap(tree):
    t0 = time.monotonic()
    tmp = tree + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"building the {ROOTFS_SUITE} root file system with mmdebstrap (about a minute)")
    cmd = ["mmdebstrap", "--variant=essential", "--mode=root", "--quiet",
           "--include=" + ",".join(ROOTFS_PACKAGES),
           "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*",
           "--dpkgopt=path-exclude=/usr/share/doc/*",
           "--customize-hook=chroot \"$1\" groupadd -r wdfx",
           "--customize-hook=chroot \"$1\" useradd -m -s /bin/sh -G wdfx hil",
           ROOTFS_SUITE, tmp, _mirror()]
    run(cmd)
    # Static customisation: quiet boot, no getty on our serial console, no units that only cost time.
    etc = os.path.join(tmp, "etc")
    with open(os.path.join(etc, "hostname"), "w") as f:
        f.write("hil\n")
    with open(os.path.join(etc, "fstab"), "w") as f:
        f.write("# root is mounted read-write by the initramfs; snapshot=on keeps the image pristine\n")
    mask = os.path.join(etc, "systemd", "system")
    os.makedirs(mask, exist_ok=True)
    for unit in ("serial-getty@ttyS0.service", "serial-getty@ttyS1.service", "getty@tty1.service",
                 "systemd-timesyncd.service", "e2scrub_all.timer", "e2scrub_reap.service",
                 "systemd-networkd.service", "apt-daily.timer", "apt-daily-upgrade.timer",
                 "fstrim.timer", "dpkg-db-backup.timer"):
        p = os.path.join(mask, unit)
        if not os.path.lexists(p):
            os.symlink("/dev/null", p)
    open(os.path.join(tmp, ".complete"), "w").close()
    if os.path.exists(tree):
        shutil.rmtree(tree)
    os.rename(tmp, tree)
    log(f"root file system ready in {time.monotonic() - t0:.1f} s")


def _build_image(tree, img, kernel):
    t0 = time.monotonic()
    kver = kernel["kver"]
    mods = os.path.join(tree, "lib", "modules")
    shutil.rmtree(mods, ignore_errors=True)
    shutil.copytree(os.path.join(kernel["modules_root"], "lib", "modules", kver), os.path.join(mods, kver))
    run(["chroot", tree, "depmod", "-a", kver])
    size_mb = _du_mb(tree) * 3 // 2 + 64
    tmp = img + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    with open(tmp, "wb") as f:
        f.truncate(size_mb << 20)
    run(["mkfs.ext4", "-q", "-F", "-L", "hilroot", "-d", tree, tmp])
    os.rename(tmp, img)
    log(f"root image {img} ({size_mb} MiB sparse) built in {time.monotonic() - t0:.1f} s")


def _du_mb(path):
    total = 0
    for dp, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dp, f)).st_size
            except OSError:
                pass
    return total >> 20
