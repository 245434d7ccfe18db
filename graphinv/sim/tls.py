"""A self-signed certificate for simulated APIs that must speak https (Azure refuses bearer tokens
over plain http).

The certificate is its own CA: clients trust exactly this file (`connection_verify=<cert.pem>`,
`REQUESTS_CA_BUNDLE`), nothing is added to the system trust store. It names 127.0.0.1 and
localhost, and carries the extensions strict X.509 verification asks of a CA that also serves as
the leaf (critical basic constraints, key usage, subject and authority key identifiers).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"


@dataclass(frozen=True)
class SelfSignedCert:
    cert: Path  # PEM certificate; also the CA bundle clients verify against
    key: Path  # PEM private key (unencrypted, mode 0600)

    @property
    def tls(self) -> tuple[Path, Path]:
        """The (cert, key) pair SimHTTPServer takes."""
        return (self.cert, self.key)


def self_signed_cert(directory: Path, common_name: str = "graphinv simulator",
                     valid_days: int = 30) -> SelfSignedCert:
    """Write a fresh certificate and key for 127.0.0.1/localhost into `directory`.

    A new key each call: simulators are short-lived and the key never leaves the work directory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    # Backdate a little so a client whose clock runs slightly behind still accepts it.
    now = dt.datetime.now(dt.UTC)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            ]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / CERT_FILE
    key_path = directory / KEY_FILE
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.chmod(0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSignedCert(cert=cert_path, key=key_path)
