"""Certificates made at test time with the ``openssl`` binary (the project does not depend on
``cryptography``): a CA, a server certificate for localhost and 127.0.0.1, a client certificate
it signed, and a second, unrelated CA with a client certificate of its own."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]  # fast to make, unlike RSA


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # signed neither the server's certificate nor the client's
    other_client_cert: Path  # a client certificate the server's CA did not sign
    other_client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", *_EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-subj", f"/CN={name}", "-days", "2", cwd=directory)  # fmt: skip


def _leaf(directory: Path, name: str, ca: str, extensions: str) -> None:
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("req", "-new", *_EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
             cwd=directory)  # fmt: skip
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=directory)  # fmt: skip


def make_certs(directory: Path) -> Certs:
    _ca(directory, "ca")
    _ca(directory, "other-ca")
    server = "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
    client = "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n"
    _leaf(directory, "server", "ca", server)
    _leaf(directory, "client", "ca", client)
    _leaf(directory, "other-client", "other-ca", client)
    return Certs(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        other_ca=directory / "other-ca.crt",
        other_client_cert=directory / "other-client.crt",
        other_client_key=directory / "other-client.key",
    )
