"""The actor system, which unpickles whatever reaches it, is reachable from loopback only."""

import socket

import psutil
import pytest

from tests.conftest import actor_processes


def non_loopback_address() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return None


def test_admin_port_refuses_connections_on_a_non_loopback_address(brain):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    # Control: a socket listening on every interface IS reachable at that address,
    # so a refusal below is the brain's doing, not a firewall's.
    with socket.socket() as control:
        control.bind(("0.0.0.0", 0))
        control.listen()
        socket.create_connection((address, control.getsockname()[1]), timeout=2).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, brain.admin_port), timeout=2)
    # ...while the admin does answer on loopback.
    socket.create_connection(("127.0.0.1", brain.admin_port), timeout=2).close()


def test_every_actor_socket_listens_on_loopback_only(brain):
    with brain.eye() as eye:
        eye.wait_ready()  # a session and its cortexes exist too
        pids = {p.pid for p in actor_processes(brain.admin_port)}
        assert len(pids) >= 6
        listening = [c for c in psutil.net_connections("tcp")
                     if c.pid in pids and c.status == psutil.CONN_LISTEN]
        assert len(listening) >= len(pids)
        assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
