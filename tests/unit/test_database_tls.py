"""Database TLS: what the connection string becomes in each case, and that libpq (psycopg's own
wheel) then really verifies the server's certificate, against a TLS endpoint that speaks
PostgreSQL's SSLRequest with a certificate from a test CA."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psycopg.conninfo import conninfo_to_dict
from sheetbrain import config
from sheetbrain.config import RDS_CA_BUNDLE, Settings, database_conninfo
from sheetbrain.errors import ConfigurationError

AWS = {"environment": "aws"}


@pytest.mark.parametrize(
    ("settings", "url", "conninfo"),
    [
        # Locally, as today: the URL as given (the embedded server is a Unix socket)
        ({}, "postgresql://app:pw@db.internal/sb", "postgresql://app:pw@db.internal/sb"),
        ({"db_sslmode": "verify-full"}, "host=/tmp/pg dbname=sb", "host=/tmp/pg dbname=sb"),
        ({}, "postgresql:///sb?host=/var/run/postgresql", "postgresql:///sb?host=/var/run/postgresql"),
        # In AWS: verify-full against the system's roots (an RDS Proxy's certificate is public)
        (AWS, "postgresql://app:pw@db.internal/sb", "user=app password=pw dbname=sb host=db.internal "
         "sslmode=verify-full sslrootcert=system"),
        # what a secret says about TLS does not weaken it
        (AWS, "postgresql://app:pw@db.internal/sb?sslmode=require", "user=app password=pw dbname=sb "
         "host=db.internal sslmode=verify-full sslrootcert=system"),
        # an RDS-managed secret assembled into key=value form
        (AWS, "host=db.internal port=5432 user=sys password=p dbname=sb", "host=db.internal port=5432 user=sys "
         "password=p dbname=sb sslmode=verify-full sslrootcert=system"),
        # a CA file named by DB_SSLROOTCERT
        ({**AWS, "db_sslrootcert": __file__}, "host=db.internal dbname=sb",
         f"host=db.internal dbname=sb sslmode=verify-full sslrootcert={__file__}"),
        # an explicit mode, locally or in AWS (no CA: libpq's own default, ~/.postgresql/root.crt)
        ({"db_sslmode": "require"}, "host=db.internal dbname=sb", "host=db.internal dbname=sb sslmode=require"),
        ({**AWS, "db_sslmode": "require"}, "host=db.internal dbname=sb", "host=db.internal dbname=sb sslmode=require"),
    ],
)  # fmt: skip
def test_the_connection_string_in_each_case(settings: dict[str, str], url: str, conninfo: str) -> None:
    made = database_conninfo(url, Settings.model_validate(settings))
    # the same parameters (libpq's order of them is its own)
    assert conninfo_to_dict(made) == conninfo_to_dict(conninfo)
    if "sslmode" not in conninfo:
        assert made == url  # left exactly as given


def test_rds_names_the_rds_bundle_in_the_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.model_validate({**AWS, "db_sslrootcert": "rds"})
    assert RDS_CA_BUNDLE.parts[-4:] == ("sheetbrain", "db", "certs", "rds-global-bundle.pem")
    # Given a layer built without `make rds-ca`: a configuration error that says how to add it
    monkeypatch.setattr(config, "RDS_CA_BUNDLE", tmp_path / "rds-global-bundle.pem")
    with pytest.raises(ConfigurationError, match="make rds-ca"):
        database_conninfo("host=db.internal dbname=sb", settings)
    # Given the bundle in the layer: verify-full against it
    (tmp_path / "rds-global-bundle.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert conninfo_to_dict(database_conninfo("host=db.internal dbname=sb", settings)) == {
        "host": "db.internal",
        "dbname": "sb",
        "sslmode": "verify-full",
        "sslrootcert": str(tmp_path / "rds-global-bundle.pem"),
    }


def test_an_unparsable_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as refused:
        database_conninfo("host='unterminated password=hunter2", Settings.model_validate(AWS))
    assert "hunter2" not in str(refused.value) and refused.value.__cause__ is None


# --- libpq's verification, for real ------------------------------------------------------------


def _ca(tmp: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


class TlsPostgresStandIn:
    """Accepts PostgreSQL's SSLRequest, completes TLS with a certificate for ``localhost`` from
    ``ca``, then refuses the startup message with an error libpq shows as it is."""

    REACHED = "stand-in reached over verified TLS"

    def __init__(self, tmp: Path, ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]) -> None:
        ca_key, ca_cert, _ = ca
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (tmp / "server.pem").write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(tmp / "server.pem")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError, ssl.SSLError):  # the client gave up on the certificate
                    self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.recv(8)  # SSLRequest: length 8, code 80877103
        conn.sendall(b"S")
        with self.context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)  # the startup message
            fields = b"SFATAL\0VFATAL\0C28000\0M" + self.REACHED.encode() + b"\0\0"
            tls.sendall(b"E" + struct.pack("!I", 4 + len(fields)) + fields)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def trusted_ca(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    return _ca(tmp_path, "test-root")


@pytest.fixture
def server(tmp_path: Path, trusted_ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]) -> Iterator[int]:
    standin = TlsPostgresStandIn(tmp_path, trusted_ca)
    yield standin.port
    standin.close()


def _connect_error(conninfo: str) -> str:
    with pytest.raises(psycopg.OperationalError) as failed:
        psycopg.connect(conninfo, connect_timeout=5)
    return str(failed.value)


def _aws_conninfo(host: str, port: int, **settings: str) -> str:
    return database_conninfo(f"host={host} port={port} user=app dbname=sb", Settings.model_validate(AWS | settings))


def test_the_certificate_is_verified_against_the_named_ca(server: int, trusted_ca: tuple, tmp_path: Path) -> None:
    # Given the CA that signed the server's certificate
    ok = _connect_error(_aws_conninfo("localhost", server, db_sslrootcert=str(trusted_ca[2])))
    # Then the connection gets through TLS to the server's own answer
    assert TlsPostgresStandIn.REACHED in ok
    # Given another CA: refused before anything is sent
    other = _ca(tmp_path, "other-root")[2]
    refused = _connect_error(_aws_conninfo("localhost", server, db_sslrootcert=str(other)))
    assert "certificate verify failed" in refused and TlsPostgresStandIn.REACHED not in refused


def test_the_host_name_is_verified(server: int, trusted_ca: tuple) -> None:
    # Given the right CA but a name the certificate does not carry
    refused = _connect_error(_aws_conninfo("127.0.0.1", server, db_sslrootcert=str(trusted_ca[2])))
    assert 'does not match host name "127.0.0.1"' in refused


def test_system_roots_are_those_of_ssl_cert_file(
    server: int, trusted_ca: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The AWS default, sslrootcert=system: psycopg's wheel bundles an OpenSSL whose default store
    # (/usr/lib/psycopg-openssl) is not on Lambda; the template points SSL_CERT_FILE at a bundle
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted_ca[2]))
    assert TlsPostgresStandIn.REACHED in _connect_error(_aws_conninfo("localhost", server))


def test_the_proxy_endpoint_replaces_the_secrets_host_and_is_verified_in_full() -> None:
    from psycopg.conninfo import conninfo_to_dict
    from sheetbrain.config import Settings, database_conninfo

    # Given a function of the stack with its own proxy: a login secret naming the cluster
    settings = Settings.model_validate(
        {
            "environment": "aws",
            "database_host": "sheetbrain-prod.proxy-abc.eu-west-1.rds.amazonaws.com",
            "database_port": "5432",
            "database_name": "sheetbrain",
            "db_sslrootcert": "system",
        }
    )
    secret_url = (
        "host=cluster.cluster-xyz.eu-west-1.rds.amazonaws.com port=5433"
        " user=sheetbrain_lambda password=pw dbname=postgres"
    )
    # When its connection string is built
    params = conninfo_to_dict(database_conninfo(secret_url, settings))
    # Then it goes to the proxy, on 5432, to the stack's database, verifying the proxy's name
    assert params == {
        "host": "sheetbrain-prod.proxy-abc.eu-west-1.rds.amazonaws.com",
        "port": "5432",
        "user": "sheetbrain_lambda",
        "password": "pw",
        "dbname": "sheetbrain",
        "sslmode": "verify-full",
        "sslrootcert": "system",
    }


def test_an_rds_managed_master_secret_without_a_host_needs_database_host(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import boto3
    from moto import mock_aws
    from psycopg.conninfo import conninfo_to_dict
    from sheetbrain import aws
    from sheetbrain.config import Settings, reset_settings
    from sheetbrain.errors import ConfigurationError

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        aws.reset_clients()
        reset_settings()
        # Given the master secret RDS manages for the stack's cluster: username and password only
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="rds!cluster-1", SecretString=json.dumps({"username": "sheetbrain_owner", "password": "pw"})
        )["ARN"]
        base = {"environment": "aws", "migration_database_secret_arn": arn}
        # Then without DATABASE_HOST it is refused, naming what is missing
        with pytest.raises(ConfigurationError, match="names no host, and DATABASE_HOST is not set"):
            Settings.model_validate(base).require_migration_database_url()
        # And with the proxy's endpoint and the database's name, the owner connects through it
        settings = Settings.model_validate(
            {**base, "database_host": "p.proxy-abc.eu-west-1.rds.amazonaws.com", "database_name": "sheetbrain"}
        )
        params = conninfo_to_dict(settings.require_migration_database_url())
        assert (params["host"], params["user"], params["dbname"], params["sslmode"]) == (
            "p.proxy-abc.eu-west-1.rds.amazonaws.com",
            "sheetbrain_owner",
            "sheetbrain",
            "verify-full",
        )
        aws.reset_clients()
        reset_settings()
