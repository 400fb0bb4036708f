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
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import grpc

CONNECT_TIMEOUT_S = 10.0
ATTEMPTS_PER_CONNECTION = 20
_ESTABLISHED, _LISTEN = "01", "0A"
T = TypeVar("T")


def own_connection(target: str) -> grpc.Channel:
    """A channel with a TCP connection of its own.

    By default every channel of a process to one target shares a single connection (gRPC's
    global subchannel pool), and worker processes behind SO_REUSEPORT are balanced by
    connection, not by call: two client processes could then load one worker of two.
    """
    return grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


def balanced_connections(target: str, count: int) -> list[grpc.Channel]:
    """``count`` connected channels to ``target``, as evenly spread over its workers as can be."""
    return _balanced(target, count, _open_channel, lambda channel: channel.close())


def balanced_sockets(target: str, count: int) -> list[socket.socket]:
    """``count`` plain TCP connections to ``target``, spread the same way: for a load generator
    that speaks HTTP/2 itself (benchmarks/h2gen) and is handed the open sockets."""
    return _balanced(target, count, _open_socket, lambda sock: sock.close())


def _balanced(
    target: str, count: int, open_one: Callable[[str], tuple[T, int | None]], close: Callable[[T], None]
) -> list[T]:
    port = int(target.rsplit(":", 1)[1])
    workers = listening_processes(port)
    if len(workers) < 2:
        return [open_one(target)[0] for _ in range(count)]
    share = -(-count // len(workers))  # ceiling: every worker gets count // workers or one more
    held: Counter[int] = Counter()
    kept: list[T] = []
    for _ in range(count * ATTEMPTS_PER_CONNECTION):
        if len(kept) == count:
            return kept
        connection, client_port = open_one(target)
        worker = _worker_of(port, client_port, workers) if client_port is not None else None
        if worker is not None and held[worker] < share:
            held[worker] += 1
            kept.append(connection)
        else:
            close(connection)
    for connection in kept:
        close(connection)
    raise RuntimeError(f"could not spread {count} connections over {len(workers)} workers on port {port}")


def _open_channel(target: str) -> tuple[grpc.Channel, int | None]:
    """A connected channel and its local port (None when it cannot be told apart)."""
    port = int(target.rsplit(":", 1)[1])
    before = _own_ports(port)
    channel = own_connection(target)
    grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT_S)
    new = _own_ports(port) - before
    return channel, (new.pop() if len(new) == 1 else None)


def _open_socket(target: str) -> tuple[socket.socket, int | None]:
    host, _, port = target.rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S)
    return sock, sock.getsockname()[1]


def _worker_of(port: int, client_port: int, workers: list[int]) -> int | None:
    """The worker that accepted the connection from ``client_port``, once it has (a plain socket is
    connected before the server's accept(); a ready gRPC channel has been accepted already)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while (worker := _accepted_by(port, client_port, workers)) is None and time.monotonic() < deadline:
        time.sleep(0.002)
    return worker


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


def processes_named(name: str) -> list[int]:
    """The processes whose command name is ``name`` (``nats-server``)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    out.append(int(entry))
            except OSError:
                continue
    return out


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL's backend processes serving connections to ``database`` (their title is
    ``postgres: <user> <database> <client> <state>``)."""
    marker = f" {database} ".encode()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"postgres: ") and marker in title:
                out.append(int(entry))
    return out
