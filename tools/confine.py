"""Start one program confined, for the grader: ``python -I tools/confine.py CONFIG_JSON -- PROGRAM ARGS...``

It runs in the child process between fork and exec, so it uses the standard library only and is run by path with
``-I`` (nothing from the environment, the current folder or the user's site can change what it imports). In order:
1. as root, a mount namespace where the folders it must reach (Python, the course, its scratch copy) can be
   entered by an unprivileged user, even below a home that others may not enter (``expose``);
2. a network namespace of its own when it can (as root; or in a user namespace where the kernel allows one): the
   program then has no network at all, not even loopback (the grader talks to kernels through Unix sockets);
3. resource limits: address space (memory), size of any file it writes, open files, no core dumps, and as a
   dedicated user also the number of processes and threads;
4. when started as root: the listed paths are handed to the submission's own user id, then supplementary groups,
   group and user are dropped to that id, so that the program cannot write the course, read the grader's files,
   or signal any other process (each submission graded at once has its own id);
5. exec of the program, with the environment the grader built.

What it achieved is written as one JSON line to the file ``report`` names (the grader reads it):
``{"network": "none" | "host", "user": <uid>}``.
"""
import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
PR_SET_NO_NEW_PRIVS = 38
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 1, 32, 4096, 8192, 16384, 1 << 18


def _unshare(flags):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def _mount(source, target, fstype, flags, data=None):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                  data and data.encode()) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}: {os.strerror(ctypes.get_errno())}")


def expose(paths, staging):
    """Make ``paths`` reachable for an unprivileged user, as root, in a mount namespace of this process only.

    A folder on the way that others may not enter (a home such as /root, mode 0700, holding the Python that
    runs the course) is covered by an empty tmpfs, and only the entries of it that lead to ``paths`` are bound
    back in, read-only: the program reaches its Python and the course, and sees nothing else of that home."""
    covers = {}
    for path in map(os.path.realpath, paths):
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            folder = "/" + "/".join(parts[:depth])
            if not os.stat(folder).st_mode & 0o001:
                covers.setdefault(folder, set()).add(parts[depth])
                break
    if not covers:
        return
    _unshare(CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for index, (folder, entries) in enumerate(sorted(covers.items())):
        staged = []
        for entry in sorted(entries):
            stage = os.path.join(staging, f"{index}-{entry}")
            os.makedirs(stage, exist_ok=True)
            _mount(os.path.join(folder, entry), stage, None, MS_BIND | MS_REC)
            staged.append((entry, stage))
        _mount("tmpfs", folder, "tmpfs", 0, "mode=0755,size=1m")
        for entry, stage in staged:
            target = os.path.join(folder, entry)
            os.makedirs(target, exist_ok=True)
            _mount(stage, target, None, MS_MOVE)
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def no_network():
    """Leave the host's network: a namespace of our own has only a loopback device, and it is down."""
    try:
        _unshare(CLONE_NEWNET)
        return True
    except OSError:
        pass
    if os.getuid() == 0:
        return False
    try:  # without root: a user namespace first, where the kernel allows it, then the network namespace inside it
        uid, gid = os.getuid(), os.getgid()
        _unshare(CLONE_NEWUSER | CLONE_NEWNET)
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as file:
                file.write(text)
        return True
    except OSError:
        return False


def limit(name, value):
    if value:
        try:
            resource.setrlimit(name, (value, value))
        except (ValueError, OSError):  # a hard limit already lower than ours: keep it
            pass


def main(argv):
    config = json.loads(argv[1])
    assert argv[2] == "--", "usage: confine.py CONFIG_JSON -- PROGRAM ARGS..."
    program = argv[3:]
    network = "none" if config.get("no_network") and no_network() else "host"
    limit(resource.RLIMIT_AS, config.get("memory_bytes"))
    limit(resource.RLIMIT_FSIZE, config.get("file_bytes"))
    limit(resource.RLIMIT_NOFILE, config.get("open_files"))
    limit(resource.RLIMIT_CORE, 0)
    uid = config.get("uid")
    if uid is not None and os.getuid() == 0:
        expose(config.get("expose", []), config["staging"])
        for path in config.get("chown", []):
            os.chown(path, uid, uid)
        limit(resource.RLIMIT_NPROC, config.get("processes"))  # counted per user id: meaningful only for our own
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    # No new privileges: a setuid program (mount, passwd, su) run by the submission gains nothing from its bit.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.umask(0o077)
    if config.get("report"):
        with open(config["report"], "w") as file:
            json.dump({"network": network, "user": os.getuid()}, file)
    os.execvp(program[0], program)


if __name__ == "__main__":
    main(sys.argv)
