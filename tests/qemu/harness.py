# SPDX-License-Identifier: GPL-2.0-or-later
"""QEMU/OVMF harness: boots the test machine and plays "Windows" (DESIGN §9).

Each boot attempt is one QEMU run (-no-reboot). The stub loader on the ESP
ends the VM through isa-debug-exit (status 33); the harness then decides on
the host whether that boot "blue-screened" or reached the desktop, and in the
latter case blesses it with the real CLI, as the OS agent would.
"""
import concurrent.futures
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import traceback

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(TOP, "build")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
# Firmware of a Machine: code, variable-store template (copied per machine),
# -machine value and extra QEMU arguments.
FIRMWARE = {"code": OVMF_CODE, "vars": OVMF_VARS, "machine": "q35", "args": []}
# Secure Boot (DESIGN §9): Debian's OVMF with PK, KEK and db holding the
# snakeoil test certificate (key: SNAKEOIL_KEY, passphrase "snakeoil"). The
# SMM build keeps the variable store out of the guest's reach, so QEMU must
# give it SMM and a secure pflash.
SECURE_BOOT = {"code": "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd",
               "vars": "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd",
               "machine": "q35,smm=on",
               "args": ["-global", "driver=cfi.pflash01,property=secure,value=on"]}
SNAKEOIL_KEY = "/usr/share/ovmf/PkKek-1-snakeoil.key"
SNAKEOIL_CERT = "/usr/share/ovmf/PkKek-1-snakeoil.pem"
STUB_EXIT = 33          # (0x10 << 1) | 1, see tests/stub-loader
STUB_MARKER = "STUB-LOADER: Windows Boot Manager stand-in reached"
CLI = os.path.join(BUILD, "unloop")

ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]")


def clean(text):
    """Serial output without ANSI sequences and carriage-return redraws."""
    text = ANSI.sub("", text)
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        # a countdown redraws its line with \r: keep what was seen last
        lines.append(line.split("\r")[-1] if "\r" in line else line)
    return "\n".join(lines)


class Boot:
    """The outcome of one QEMU run."""

    def __init__(self, raw, exit_code, elapsed, timed_out, marks):
        self.raw = raw
        self.text = clean(raw)
        self.exit_code = exit_code
        self.elapsed = elapsed
        self.timed_out = timed_out
        self.marks = marks          # {pattern: seconds after start when first seen}

    @property
    def reached_loader(self):
        return self.exit_code == STUB_EXIT and STUB_MARKER in self.text

    @property
    def menu_shown(self):
        return "boot loop detected" in self.text and "1. Continue boot" in self.text

    def unloop_lines(self):
        return [l.strip() for l in self.text.split("\n") if l.strip().startswith("unloop:")]


class Machine:
    """A private copy of a test machine image and its NVRAM."""

    def __init__(self, base_image, workdir=None, firmware=None):
        self.firmware = firmware or FIRMWARE
        self.dir = workdir or tempfile.mkdtemp(prefix="unloop-vm-", dir=BUILD)
        os.makedirs(self.dir, exist_ok=True)
        self.disk = os.path.join(self.dir, "disk.img")
        subprocess.run(["cp", "--sparse=always", base_image, self.disk], check=True)
        self.layout = {}
        with open(base_image + ".layout") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k:
                    self.layout[k] = int(v)
        self.extra = []             # more QEMU arguments (a USB stick, SMBIOS fields)
        self.vars = os.path.join(self.dir, "vars.fd")
        shutil.copy(self.firmware["vars"], self.vars)
        self.boots = []

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the ESP, from the host (mtools on the raw image) ----
    def _img(self):
        return "%s@@%d" % (self.disk, self.layout["esp_offset"])

    def _mtools(self, *args, check=True):
        env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
        return subprocess.run(list(args), env=env, check=check, capture_output=True)

    def esp_read(self, path):
        r = self._mtools("mtype", "-i", self._img(), "::" + path.replace("\\", "/"), check=False)
        return r.stdout if r.returncode == 0 else None

    def esp_write(self, path, data):
        """Write a file on the ESP, making its directories as needed."""
        parts = path.replace("\\", "/").strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:i])
            if not self.esp_exists(d):
                self._mtools("mmd", "-i", self._img(), "::" + d)
        with tempfile.NamedTemporaryFile(dir=self.dir, delete=False) as f:
            f.write(data)
        try:
            self._mtools("mcopy", "-o", "-i", self._img(), f.name, "::" + path.replace("\\", "/"))
        finally:
            os.unlink(f.name)

    def esp_delete(self, path):
        self._mtools("mdel", "-i", self._img(), "::" + path.replace("\\", "/"), check=False)

    def esp_exists(self, path):
        r = self._mtools("mdir", "-b", "-i", self._img(), "::" + path.replace("\\", "/"),
                         check=False)
        return r.returncode == 0

    BCD = "\\EFI\\Microsoft\\Boot\\BCD"
    BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"

    def bcd_file(self):
        """The ESP's BCD store copied to a host file (None if absent)."""
        data = self.esp_read(self.BCD)
        if data is None:
            return None
        path = os.path.join(self.dir, "BCD.host")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def bcd_safeboot(self):
        """safeboot of the default loader as hivex reads it: None when not set."""
        path = self.bcd_file()
        r = subprocess.run(["hivexget", path, "Objects\\%s\\Elements\\23000003" % self.BOOTMGR,
                            "Element"], capture_output=True, text=True, check=True)
        default = r.stdout.strip()
        r = subprocess.run(["hivexsh"], input="load %s\ncd Objects\\%s\\Elements\\25000080\n"
                           "lsval\n" % (path, default), capture_output=True, text=True)
        line = [ln for ln in r.stdout.splitlines() if ln.startswith('"Element"=hex(3):')]
        if r.returncode != 0 or not line:
            return None
        # hivexsh prints "Element"=hex(3):00,00,00,00,00,00,00,00
        hexpart = line[0].split(":", 1)[1].split(",")
        return int.from_bytes(bytes(int(x, 16) for x in hexpart), "little")

    # ---- the Windows (NTFS) volume, from the host (ntfs-3g tools) ----
    def ntfs_image(self):
        """The NTFS partition copied out as its own file (ntfs-3g tools take no offset)."""
        out = os.path.join(self.dir, "ntfs.host")
        subprocess.run(["dd", "if=" + self.disk, "of=" + out, "bs=1M",
                        "iflag=skip_bytes,count_bytes", "skip=%d" % self.layout["ntfs_offset"],
                        "count=%d" % self.layout["ntfs_size"], "conv=sparse", "status=none"],
                       check=True)
        return out

    def ntfs_exists(self, path, vol=None):
        vol = vol or self.ntfs_image()
        d, _, name = path.replace("\\", "/").rpartition("/")
        r = subprocess.run(["ntfsls", "-f", "-p", d or "/", vol], capture_output=True, text=True)
        return r.returncode == 0 and name in r.stdout.split("\n")

    def ntfs_consistent(self, vol=None):
        vol = vol or self.ntfs_image()
        r = subprocess.run(["ntfsfix", "-n", vol], capture_output=True, text=True)
        return r.returncode == 0

    def cli(self, *args, with_bcd=False):
        """Run the real CLI on a copy of \\EFI\\unloop (and the BCD store if
        with_bcd), then copy changes back: what the OS agent does on a
        mounted ESP."""
        esp = tempfile.mkdtemp(dir=self.dir)
        try:
            os.makedirs(os.path.join(esp, "EFI"))
            self._mtools("mcopy", "-s", "-n", "-i", self._img(), "::/EFI/unloop",
                         os.path.join(esp, "EFI"), check=False)
            if with_bcd:
                os.makedirs(os.path.join(esp, "EFI", "Microsoft", "Boot"))
                bcd = self.esp_read(self.BCD)
                with open(os.path.join(esp, "EFI", "Microsoft", "Boot", "BCD"), "wb") as f:
                    f.write(bcd)
            r = subprocess.run([CLI] + list(args) + ["--esp", esp], capture_output=True,
                               text=True)
            udir = os.path.join(esp, "EFI", "unloop")
            if os.path.isdir(udir):
                self._mtools("mmd", "-i", self._img(), "::/EFI/unloop", check=False)
                for name in os.listdir(udir):
                    self._mtools("mcopy", "-o", "-i", self._img(), os.path.join(udir, name),
                                 "::/EFI/unloop/" + name)
            if with_bcd:
                with open(os.path.join(esp, "EFI", "Microsoft", "Boot", "BCD"), "rb") as f:
                    self.esp_write(self.BCD, f.read())
            return r
        finally:
            shutil.rmtree(esp, ignore_errors=True)

    def status(self):
        import json
        r = self.cli("status", "--json")
        return json.loads(r.stdout)

    def bless(self, with_bcd=False):
        r = self.cli("bless", with_bcd=with_bcd)
        if r.returncode != 0:
            raise RuntimeError("bless failed: " + r.stderr)

    # ---- one boot attempt ----
    def boot(self, timeout=90, keys=(), stop_on=None, screendump=None, watch=(), kill_after=None,
             reboot=False, tpm=None):
        """Boot once. reboot: let a guest reset restart the machine in the same
        QEMU (no -no-reboot), e.g. for a warm reset after BootNext; the run
        ends when the stub loader exits QEMU or at timeout. tpm: a Swtpm,
        started for this run and stopped after it (a TPM 2.0 on tpm-tis).
        keys: [(pattern, bytes)] typed on the serial console when
        pattern first appears. stop_on: (after, text): end the VM when text
        appears after the text 'after'.
        screendump: (pattern, png_path) to capture the screen at that point.
        kill_after: (pattern, seconds): pull the plug that long after pattern
        appears (SIGKILL: what QEMU wrote to the image stays, nothing more)."""
        sock = os.path.join(self.dir, "mon.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        cmd = [
            "qemu-system-x86_64", "-machine", self.firmware["machine"], "-m", "256"] + \
            ([] if reboot else ["-no-reboot"]) + [
            "-display", "none", "-vga", "std", "-serial", "stdio", "-net", "none",
            "-monitor", "unix:%s,server,nowait" % sock,
            "-drive", "if=pflash,format=raw,readonly=on,file=" + self.firmware["code"],
            "-drive", "if=pflash,format=raw,file=" + self.vars,
            "-drive", "file=%s,format=raw,if=virtio" % self.disk,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ] + self.firmware["args"] + self.extra
        if tpm:
            cmd += tpm.start()
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        buf = bytearray()
        marks = {}
        pending = list(keys)
        shots = [screendump] if screendump else []
        watch = list(watch) + [STUB_MARKER] + [k[0] for k in keys] + \
            ([kill_after[0]] if kill_after else [])
        done = threading.Event()

        def reader():
            # marks are taken here, as bytes arrive, so their times are exact
            while True:
                chunk = p.stdout.read1(4096)
                if not chunk:
                    break
                buf.extend(chunk)
                now = time.monotonic() - start
                text = clean(buf.decode("latin-1"))
                for w in watch:
                    if w not in marks and w in text:
                        marks[w] = now
            done.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        timed_out = False
        seen_len = 0
        key_pos = 0
        while not done.wait(0.05):
            now = time.monotonic() - start
            if len(buf) != seen_len:
                seen_len = len(buf)
                raw = buf.decode("latin-1")
                text = clean(raw)
                # each key waits for its pattern in what arrived after the
                # previous key was sent (raw offsets: a \r redraw can make
                # the cleaned text shorter than it was)
                while pending and pending[0][0] in clean(raw[key_pos:]):
                    pat, data = pending.pop(0)
                    time.sleep(0.3)
                    p.stdin.write(data)
                    p.stdin.flush()
                    key_pos = len(raw)
                while shots and shots[0][0] in text:
                    pat, png = shots.pop(0)
                    time.sleep(1.0)
                    self._screendump(sock, png)
                if kill_after and kill_after[0] in marks and \
                        now >= marks[kill_after[0]] + kill_after[1]:
                    p.kill()
                    kill_after = None
                if stop_on and stop_on[1] in (text.partition(stop_on[0])[2] if stop_on[0]
                                              else text):
                    time.sleep(0.5)
                    p.kill()
            if now > timeout:
                timed_out = True
                p.kill()
        p.wait()
        t.join()
        if tpm:
            tpm.stop()
        b = Boot(buf.decode("latin-1"), p.returncode, time.monotonic() - start, timed_out, marks)
        self.boots.append(b)
        return b

    @staticmethod
    def _screendump(sock, png):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.settimeout(5)
        s.recv(4096)
        s.sendall(("screendump %s -f png\n" % png).encode())
        time.sleep(1.0)
        s.close()


class Swtpm:
    """A software TPM 2.0 (swtpm) for one QEMU run: fresh state each start,
    so every boot begins with reset PCRs, as a power-on does."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "swtpm")
        self.proc = None

    def start(self):
        """Start swtpm; returns the QEMU arguments that attach it."""
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        sock = os.path.join(self.dir, "swtpm.sock")
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + self.dir,
             "--ctrl", "type=unixio,path=" + sock, "--log", "level=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):            # the socket appears once swtpm listens
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        return ["-chardev", "socket,id=chrtpm,path=" + sock,
                "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                "-device", "tpm-tis,tpmdev=tpm0"]

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


PCR_LINE = re.compile(r"STUB-LOADER: PCR(\d) sha256 ([0-9a-f]{64}|unreadable)")


def stub_pcrs(text):
    """PCRs the stub loader printed: {index: hex}, from its last run in text."""
    out = {}
    for m in PCR_LINE.finditer(text):
        if m.group(1) == "0":
            out = {}
        out[int(m.group(1))] = m.group(2)
    return out


EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"


def read_varstore(path):
    """The variables of an OVMF variable store file (the authenticated
    variable format of edk2's MdeModulePkg/Include/Guid/VariableFormat.h):
    {(guid, name): (attributes, data)} for every variable in the ADDED state."""
    import uuid
    data = open(path, "rb").read()
    # The firmware volume header: its length at 0x30 (u16), then the
    # variable store header (GUID, Size u32, Format, State, reserved 6).
    fv_hdr = int.from_bytes(data[0x30:0x32], "little")
    store = fv_hdr
    size = int.from_bytes(data[store + 16:store + 20], "little")
    end = min(len(data), store + size)
    off = store + 28
    out = {}
    while off + 60 <= end:
        if int.from_bytes(data[off:off + 2], "little") != 0x55AA:
            break
        state = data[off + 2]
        attrs = int.from_bytes(data[off + 4:off + 8], "little")
        name_size = int.from_bytes(data[off + 36:off + 40], "little")
        data_size = int.from_bytes(data[off + 40:off + 44], "little")
        guid = str(uuid.UUID(bytes_le=bytes(data[off + 44:off + 60])))
        name = data[off + 60:off + 60 + name_size].decode("utf-16-le").rstrip("\0")
        value = data[off + 60 + name_size:off + 60 + name_size + data_size]
        # VAR_ADDED (0x3f), possibly with VAR_IN_DELETED_TRANSITION cleared (0x3e)
        if state in (0x3f, 0x3e):
            out[(guid, name)] = (attrs, bytes(value))
        off += 60 + name_size + data_size
        off = (off + 3) & ~3
    return out


def boot_entries(path):
    """BootOrder and the Boot#### load options of a variable store:
    (order, {num: (attributes, description, file path, optional data)})."""
    v = read_varstore(path)
    order_raw = v.get((EFI_GLOBAL, "BootOrder"), (0, b""))[1]
    order = [int.from_bytes(order_raw[i:i + 2], "little") for i in range(0, len(order_raw), 2)]
    entries = {}
    for (guid, name), (_, d) in v.items():
        if guid != EFI_GLOBAL or not re.fullmatch(r"Boot[0-9A-F]{4}", name):
            continue
        attrs = int.from_bytes(d[0:4], "little")
        fpl = int.from_bytes(d[4:6], "little")
        i = 6
        while d[i:i + 2] != b"\0\0":
            i += 2
        desc = d[6:i].decode("utf-16-le", "replace")
        dp = d[i + 2:i + 2 + fpl]
        files, j = [], 0
        while j + 4 <= len(dp):
            t, st, ln = dp[j], dp[j + 1], int.from_bytes(dp[j + 2:j + 4], "little")
            if ln < 4:
                break
            if t == 4 and st == 4:
                files.append(dp[j + 4:j + ln].decode("utf-16-le").rstrip("\0"))
            if t == 0x7f:
                break
            j += ln
        entries[int(name[4:], 16)] = (attrs, desc, "\\".join(f.strip("\\") for f in files),
                                      d[i + 2 + fpl:])
    return order, entries


def add_variables(path, variables):
    """Append variables to an OVMF variable store file that does not hold
    them yet (e.g. a fresh copy of OVMF_VARS_4M.fd), as the firmware's
    variable driver would: a record in the ADDED state in the free space.
    variables: [(guid, name, attributes, data)]. What a firmware tool
    (efibootmgr, bcdedit) would have written before the test boots."""
    import uuid
    data = bytearray(open(path, "rb").read())
    have = read_varstore(path)
    fv_hdr = int.from_bytes(data[0x30:0x32], "little")
    store = fv_hdr
    end = store + int.from_bytes(data[store + 16:store + 20], "little")
    off = store + 28
    while int.from_bytes(data[off:off + 2], "little") == 0x55AA:
        name_size = int.from_bytes(data[off + 36:off + 40], "little")
        data_size = int.from_bytes(data[off + 40:off + 44], "little")
        off = (off + 60 + name_size + data_size + 3) & ~3
    for guid, name, attrs, value in variables:
        if (guid, name) in have:
            raise ValueError("%s already in %s" % (name, path))
        n = (name + "\0").encode("utf-16-le")
        rec = (b"\xaa\x55" + bytes([0x3f, 0]) + attrs.to_bytes(4, "little") + bytes(8 + 16 + 4) +
               len(n).to_bytes(4, "little") + len(value).to_bytes(4, "little") +
               uuid.UUID(guid).bytes_le + n + value)
        if off + len(rec) > end or any(b != 0xff for b in data[off:off + len(rec)]):
            raise ValueError("no room in " + path)
        data[off:off + len(rec)] = rec
        off = (off + len(rec) + 3) & ~3
    with open(path, "wb") as f:
        f.write(data)


NV_BS_RT = 7    # EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS


def hd_file_path(part_number, start, size, part_guid, path):
    """A device path as efibootmgr and bcdedit write it: HD(part, GPT, guid,
    start, size)/File(path)/End (UEFI spec 10.3.5.1, 10.3.5.4)."""
    import uuid
    hd = (bytes([4, 1]) + (42).to_bytes(2, "little") + part_number.to_bytes(4, "little") +
          start.to_bytes(8, "little") + size.to_bytes(8, "little") +
          uuid.UUID(part_guid).bytes_le + bytes([2, 2]))
    p = (path + "\0").encode("utf-16-le")
    f = bytes([4, 4]) + (4 + len(p)).to_bytes(2, "little") + p
    return hd + f + bytes([0x7f, 0xff, 4, 0])


def load_option(description, device_path, attributes=1, optional=b""):
    """An EFI_LOAD_OPTION (UEFI spec 3.1.3): the data of a Boot#### variable."""
    d = (description + "\0").encode("utf-16-le")
    return (attributes.to_bytes(4, "little") + len(device_path).to_bytes(2, "little") + d +
            device_path + optional)


def esp_partition(disk):
    """(number, start, size, unique GUID) of the ESP of a disk image (sfdisk)."""
    import json
    r = subprocess.run(["sfdisk", "--json", disk], capture_output=True, text=True, check=True)
    for i, p in enumerate(json.loads(r.stdout)["partitiontable"]["partitions"], 1):
        if p["type"].upper() == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B":
            return i, p["start"], p["size"], p["uuid"].lower()
    raise ValueError("no ESP on " + disk)


TEST_BCD = os.path.join(TOP, "..", "shared", "testdata", "bcd", "win10-efi-locate.BCD")


def build_image(out, conf=None, direct=False, bcd=TEST_BCD, loader=None, stub=None):
    """The test machine; its ESP holds a real Windows BCD store by default.
    loader/stub: other binaries than build/unloop.efi and build/stub-loader.efi
    (e.g. signed ones)."""
    cmd = [os.path.join(TOP, "images", "build-test-machine.sh"), "--out", out,
           "--loader", loader or os.path.join(BUILD, "unloop.efi"),
           "--stub", stub or os.path.join(BUILD, "stub-loader.efi")]
    if bcd:
        cmd += ["--bcd", bcd]
    if conf:
        cmd += ["--conf", conf]
    if direct:
        cmd.append("--direct")
    subprocess.run(cmd, check=True, cwd=TOP)
    return out


# ---- what every QEMU suite shares ----

class Failure(Exception):
    """A check that did not hold: its message is the whole report (no traceback)."""


def check(cond, what, boot=None):
    """Raise Failure(what), with the end of boot's serial transcript, unless cond."""
    if not cond:
        msg = what
        if boot is not None:
            msg += "\n--- serial transcript ---\n" + boot.text[-3000:]
        raise Failure(msg)


def failure_text(e):
    """What to print for an exception a test raised: a Failure's message, else
    the traceback (call from the except block)."""
    return str(e) if isinstance(e, Failure) else traceback.format_exc()


def run_on(fn, name, machine):
    """fn(machine) as one test: (name, error text or None, its boots); the
    machine's files are removed afterwards."""
    try:
        fn(machine)
        return name, None, machine.boots
    except Exception as e:  # noqa: BLE001 - report every failure
        return name, failure_text(e), machine.boots
    finally:
        machine.cleanup()


def run_tests(prefix, tests, run_one, jobs, passed=0, failed=0, width=50):
    """Run run_one(test) for every test, jobs at once; run_one returns
    (name, error text or None, the Boot objects it made).  Prints a PASS or
    FAIL line per test (with boots and seconds when there were boots) and the
    closing "PREFIX: N passed, N failed" line; returns the exit status.
    passed/failed: what the suite counted before (e.g. a reference boot)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        for name, err, boots in ex.map(run_one, tests):
            tag = name
            if boots:
                tag = "%-*s %2d boots %5.1f s" % (width, name, len(boots),
                                                  sum(b.elapsed for b in boots))
            if err is None:
                passed += 1
                print("PASS " + tag, flush=True)
            else:
                failed += 1
                print("FAIL %s\n%s" % (tag, err), flush=True)
    print("%s: %d passed, %d failed" % (prefix, passed, failed), flush=True)
    return 1 if failed else 0
