"""Load-generator connections, spread evenly over the server's worker processes.

Worker processes share the port with SO_REUSEPORT: the kernel hashes each new connection to
one of them, and gRPC then sends every call of that connection to the same worker. In five
tries, 32 connections to two workers split 15/17, 15/17, 14/18, 13/19 and 11/21; at 11/21 one
worker gets 66% of the load, and "70% of peak" is 92% of that worker's share. Load meant as a
share of the machine's peak is spread the way an L7 balancer would spread it: connections are
opened one at a time, each is traced (through /proc) to the worker that accepted it, and one
that lands on a worker holding its share already is closed and opened again. Without /proc
(not Linux) or with one worker, connections are opened as they come.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import grpc

CONNECT_TIMEOUT_S = 10.0
ATTEMPTS_PER_CONNECTION = 20
_ESTABLISHED, _LISTEN = "01", "0A"


def own_connection(target: str) -> grpc.Channel:
    """A channel with a TCP connection of its own.

    By default every channel of a process to one target shares a single connection (gRPC's
    global subchannel pool), and worker processes behind SO_REUSEPORT are balanced by
    connection, not by call: two client processes could then load one worker of two.
    """
    return grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


def balanced_connections(target: str, count: int) -> list[grpc.Channel]:
    """``count`` connected channels to ``target``, as evenly spread over its workers as can be."""
    port = int(target.rsplit(":", 1)[1])
    workers = listening_processes(port)
    if len(workers) < 2:
        return [_connected(own_connection(target)) for _ in range(count)]
    share = -(-count // len(workers))  # ceiling: every worker gets count // workers or one more
    held: Counter[int] = Counter()
    kept: list[grpc.Channel] = []
    for _ in range(count * ATTEMPTS_PER_CONNECTION):
        if len(kept) == count:
            return kept
        before = _own_ports(port)
        channel = _connected(own_connection(target))
        new = _own_ports(port) - before
        worker = _accepted_by(port, new.pop(), workers) if len(new) == 1 else None
        if worker is not None and held[worker] < share:
            held[worker] += 1
            kept.append(channel)
        else:
            channel.close()
    for channel in kept:
        channel.close()
    raise RuntimeError(f"could not spread {count} connections over {len(workers)} workers on port {port}")


def _connected(channel: grpc.Channel) -> grpc.Channel:
    grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT_S)
    return channel


def _tcp() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every TCP socket on the machine."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
            found.append((int(local, 16), int(remote, 16), fields[3], int(fields[9])))
    return found


def _socket_inodes(pid: int | str) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    return inodes


def listening_processes(port: int) -> list[int]:
    """The processes listening on ``port``: the workers (the parent's reserved socket does not listen)."""
    listening = {inode for local, _, state, inode in _tcp() if local == port and state == _LISTEN}
    if not listening:
        return []
    pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    return [pid for pid in pids if _socket_inodes(pid) & listening]


def _own_ports(port: int) -> set[int]:
    """Local ports of this process's connections to ``port``."""
    mine = _socket_inodes("self")
    return {
        local for local, remote, state, inode in _tcp() if remote == port and state == _ESTABLISHED and inode in mine
    }


def _accepted_by(port: int, client_port: int, workers: list[int]) -> int | None:
    """The worker holding the server end of the connection from ``client_port``."""
    ends = {inode for local, remote, _, inode in _tcp() if local == port and remote == client_port}
    return next((pid for pid in workers if _socket_inodes(pid) & ends), None)
