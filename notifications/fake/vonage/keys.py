"""The fake Vonage's secrets: a throwaway CA and TLS certificate, and an application key.

The Vonage SDK only speaks HTTPS to a host name (it builds ``https://{host}{path}``), so
the fake serves TLS with a certificate for 127.0.0.1 from a CA made here (``trustme``);
whoever runs the SDK against it is given the CA's file to trust. The Voice API checks
the application's JWT with the public half of an RSA key; the fake makes one unless
it is given the private key the service uses.

Made once per process (an RSA key costs tens of milliseconds) in a directory removed
at exit; each file is written only once, so servers in one process share them.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notifications.vonage import load_private_key


@dataclass(frozen=True)
class TlsFiles:
    ca_path: str  # the CA certificate a client must trust (PEM)
    cert_path: str  # the server's key and certificate chain (PEM), for uvicorn


@dataclass(frozen=True)
class ApplicationKey:
    private_pem: str  # PKCS#8, what the service's VonageProvider signs its JWTs with
    public_pem: str  # what the fake checks them with
    private_path: str  # the same private key as a file (for settings and subprocesses)


_lock = threading.RLock()
_directory: Path | None = None
_tls: TlsFiles | None = None
_key: ApplicationKey | None = None


def _dir() -> Path:
    global _directory
    if _directory is None:
        _directory = Path(tempfile.mkdtemp(prefix="fake-vonage-"))
        atexit.register(shutil.rmtree, _directory, ignore_errors=True)
    return _directory


def tls_files() -> TlsFiles:
    """A CA, and a certificate it issued for 127.0.0.1, localhost and ::1."""
    global _tls
    with _lock:
        if _tls is None:
            ca = trustme.CA(organization_name="Samen op fake Vonage")
            cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
            ca_path = _dir() / "ca.pem"
            cert_path = _dir() / "server.pem"
            ca.cert_pem.write_to_path(str(ca_path))
            cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
            _tls = TlsFiles(str(ca_path), str(cert_path))
        return _tls


def application_key(private_key: str | None = None) -> ApplicationKey:
    """The given private key (PEM text or path), or the process's own throwaway one."""
    global _key
    with _lock:
        if private_key is not None:
            pem = load_private_key(private_key)
            return _derive(pem, _write(pem))
        if _key is None:
            generated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = generated.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
            _key = _derive(pem, _write(pem))
        return _key


def _write(pem: str) -> str:
    path = Path(tempfile.mkstemp(prefix="application-", suffix=".key", dir=_dir())[1])
    path.write_text(pem, "ascii")
    path.chmod(0o600)
    return str(path)


def _derive(private_pem: str, path: str) -> ApplicationKey:
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ApplicationKey(private_pem, public.decode("ascii"), path)
