#!/usr/bin/python3
"""Run a command under a systemd unit's system call sandbox, without systemd.

    unit-sandbox.py UNIT_FILE COMMAND [ARG...]

Reads SystemCallFilter= and RestrictAddressFamilies= from UNIT_FILE, expands
the filter's groups with systemd's own tables (`systemd-analyze
syscall-filter`), installs a seccomp filter with libseccomp and executes
COMMAND.  Stricter than systemd on purpose: a system call outside the list,
or a socket() of another address family, kills the process (systemd would
return SystemCallErrorNumber=/EAFNOSUPPORT), so a test that passes under it
proves the unit's lists hold everything the exercised paths use.
Capabilities are left to setpriv (the caller).
"""
import ctypes
import os
import socket
import subprocess
import sys

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def unit_values(path, key):
    values = []
    for line in open(path):
        line = line.strip()
        if line.startswith(key + "="):
            values += line[len(key) + 1:].split()
    return values


def expand(names, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for name in names:
        if not name.startswith("@"):
            out.add(name)
            continue
        if name in seen:
            continue
        seen.add(name)
        text = subprocess.run(["systemd-analyze", "syscall-filter", name], check=True,
                              capture_output=True, text=True).stdout
        members = [l.strip() for l in text.splitlines()[1:]
                   if l.strip() and not l.strip().startswith("#")]
        out |= expand(members, seen)
    return out


def main():
    unit, argv = sys.argv[1], sys.argv[2:]
    filt = unit_values(unit, "SystemCallFilter")
    families = unit_values(unit, "RestrictAddressFamilies")
    if not filt or filt[0].startswith("~") or not families or families[0].startswith("~"):
        sys.exit("unit-sandbox: %s needs an allow-list SystemCallFilter= and RestrictAddressFamilies=" % unit)
    calls = expand(filt) | {"execve"}      # systemd filters before its exec
    calls.discard("socket")
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    ctx = lib.seccomp_init(SCMP_ACT_KILL_PROCESS)
    for name in sorted(calls):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:                          # not on this architecture
            continue
        rc = lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0, None)
        if rc < 0 and rc != -17:            # -EEXIST: an alias of one added
            sys.exit("unit-sandbox: cannot allow %s: %d" % (name, rc))
    nr = lib.seccomp_syscall_resolve_name(b"socket")
    for fam in families:
        cmp = (ArgCmp * 1)(ArgCmp(0, SCMP_CMP_EQ, int(getattr(socket, fam)), 0))
        if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, cmp) < 0:
            sys.exit("unit-sandbox: cannot allow socket(%s)" % fam)
    if lib.seccomp_load(ctx) < 0:
        sys.exit("unit-sandbox: seccomp_load failed")
    os.execv(argv[0], argv)


main()
