"""`python -I -S exec_guarded.py LAUNCHER_PID UID GID COMMAND...`: becomes COMMAND, as user UID and
group GID (none of the launcher's groups) when UID is not empty, after asking the kernel to send it
SIGTERM should the launcher die, so that even a SIGKILLed launcher leaves no orphans behind.

Done here rather than in a `preexec_fn`: a child forked from the launcher that runs Python before
exec also runs the fork handlers grpc registers (the launcher polls the services' health over gRPC),
which can abort it. Without a `preexec_fn`, the child of the launcher runs no Python code at all.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(launcher_pid: str, uid: str, gid: str, *command: str) -> None:
    if uid:
        os.setgroups([])
        os.setgid(int(gid))
        os.setuid(int(uid))
    # After any change of user: the kernel clears the parent-death signal on one.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(launcher_pid):
        sys.exit("dockyard: the launcher is gone; not starting " + command[0])
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(*sys.argv[1:])
