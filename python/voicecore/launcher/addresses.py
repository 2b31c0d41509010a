"""Addresses to print: how this machine is reached from the local network."""

from __future__ import annotations

import socket


def lan_address() -> str:
    """The address of the interface that routes outward (no packet is sent), else 127.0.0.1."""
    for target in ("10.255.255.255", "192.168.255.255", "8.8.8.8"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((target, 1))
            address = s.getsockname()[0]
            if address and not address.startswith("127."):
                return address
        except OSError:
            continue
        finally:
            s.close()
    return "127.0.0.1"


def free_port(host: str = "127.0.0.1") -> int:
    s = socket.socket()
    try:
        s.bind((host, 0))
        return int(s.getsockname()[1])
    finally:
        s.close()
