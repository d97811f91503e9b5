"""TLS on the provider client: the certificate is checked against the host name, with the
roots it is given (certifi's by default)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest

from sluicegate.providers.http1 import Http1Client

from .conftest import ok, post


def self_signed(folder: Path, names: str) -> Path:
    """A self-signed certificate (its own trust anchor) for `names`, a subjectAltName list."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
         "-days", "2", "-subj", "/CN=test",
         "-addext", f"subjectAltName={names}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return self_signed(tmp_path_factory.mktemp("tls"), "DNS:localhost,IP:127.0.0.1")


async def tls_server(folder: Path) -> tuple[asyncio.Server, int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ok(b"secret"))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[1]


async def test_tls_is_verified_against_the_host_name(certificate: Path) -> None:
    trusted = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
    server, port = await tls_server(certificate)
    try:
        client = Http1Client(f"https://localhost:{port}/v1", {}, 5.0, tls=trusted)
        assert (await post(client))[2] == b"secret"
        await client.aclose()
        untrusted = Http1Client(f"https://localhost:{port}/v1", {}, 5.0)  # the certifi roots
        with pytest.raises(ssl.SSLCertVerificationError):
            await post(untrusted)
        await untrusted.aclose()
    finally:
        server.close()


async def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    folder = self_signed(tmp_path, "DNS:other.example")
    trusted = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    server, port = await tls_server(folder)
    try:
        client = Http1Client(f"https://localhost:{port}/v1", {}, 5.0, tls=trusted)
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            await post(client)
        await client.aclose()
    finally:
        server.close()
