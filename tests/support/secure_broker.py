"""A Mosquitto running deploy/mosquitto/ as shipped: only ports, paths and certificates rewritten.

Certificates are made at test time with ``cryptography``: our CA (broker and edge certificates) and
a stranger's CA (a certificate the broker must refuse). :func:`try_connect` reports whether a
client got a successful CONNACK, and why not.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import signal
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.processes import wait_until
from tests.support.services import free_port, mosquitto_binary, wait_for_port

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class BrokerPki:
    ca: Path
    broker: KeyPair
    edge: KeyPair
    stranger_ca: Path
    stranger_edge: KeyPair  # signed by the stranger's CA: the broker must refuse it


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _ca(directory: Path, common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{common_name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, path


def _leaf(
    directory: Path,
    name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(issuer[1], hashes.SHA256())
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, pair.key)
    return pair


def make_test_pki(directory: Path) -> BrokerPki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key, ca_path = _ca(directory, "kaoqin-test-ca")
    stranger_cert, stranger_key, stranger_path = _ca(directory, "stranger-ca")
    return BrokerPki(
        ca=ca_path,
        broker=_leaf(directory, "broker", (ca_cert, ca_key), server=True),
        edge=_leaf(directory, "edge", (ca_cert, ca_key), server=False),
        stranger_ca=stranger_path,
        stranger_edge=_leaf(directory, "stranger-edge", (stranger_cert, stranger_key), server=False),
    )


def deployed_config(
    *,
    plain_port: int,
    tls_port: int,
    workdir: Path,
    password_file: Path,
    pki: BrokerPki,
    text: str | None = None,
) -> str:
    """deploy/mosquitto/mosquitto.conf with ports, paths and certificates replaced, nothing else.

    Every replaced line must be in the shipped file exactly once, so a change to it that this
    rewrite would hide fails here instead."""
    text = (DEPLOY_DIR / "mosquitto.conf").read_text() if text is None else text
    replacements = {
        "listener 1883 127.0.0.1": f"listener {plain_port} 127.0.0.1",
        "listener 8883": f"listener {tls_port} 127.0.0.1",
        "password_file /etc/mosquitto/kaoqin.passwd": f"password_file {password_file}",
        "acl_file /etc/mosquitto/kaoqin.acl": f"acl_file {DEPLOY_DIR / 'kaoqin.acl'}",
        "cafile /etc/mosquitto/certs/kaoqin-ca.crt": f"cafile {pki.ca}",
        "certfile /etc/mosquitto/certs/broker.crt": f"certfile {pki.broker.cert}",
        "keyfile /etc/mosquitto/certs/broker.key": f"keyfile {pki.broker.key}",
        "persistence_location /var/lib/mosquitto/": f"persistence_location {workdir}/",
        "log_dest file /var/log/mosquitto/mosquitto.log": f"log_dest file {workdir / 'mosquitto.log'}",
    }
    lines = text.splitlines()
    for shipped, replacement in replacements.items():
        where = [i for i, line in enumerate(lines) if line.strip() == shipped]
        assert len(where) == 1, (
            f"deploy/mosquitto/mosquitto.conf should have {shipped!r} once, has {len(where)}"
        )
        lines[where[0]] = replacement
    if os.geteuid() == 0:
        # Started as root, mosquitto switches to the "mosquitto" account, which cannot enter the
        # test's private temporary directory: keep the account the test runs as.
        lines.append("user root")
    return "\n".join(lines) + "\n"


class SecureMosquitto:
    """A mosquitto process with the deployed configuration on two free loopback ports."""

    def __init__(
        self,
        workdir: Path,
        password_file: Path,
        pki: BrokerPki,
        *,
        config_text: str | None = None,
        plain_port: int | None = None,
    ) -> None:
        self.binary = mosquitto_binary()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.plain_port = plain_port or free_port()
        self.tls_port = free_port()
        self.password_file = password_file
        self.pki = pki
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(
            deployed_config(
                plain_port=self.plain_port,
                tls_port=self.tls_port,
                workdir=workdir,
                password_file=password_file,
                pki=pki,
                text=config_text,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.plain_port}"

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)])
        wait_for_port("127.0.0.1", self.plain_port)
        wait_for_port("127.0.0.1", self.tls_port)

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads the password file and the ACL, as `systemctl reload` does."""
        assert self.process is not None
        before = self.log().count("Reloading config")
        self.process.send_signal(signal.SIGHUP)
        wait_until(lambda: self.log().count("Reloading config") > before, 10, "mosquitto to reload")

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@dataclass(frozen=True)
class Outcome:
    connected: bool
    reason: str


def add_password(password_file: Path, username: str, password: str) -> None:
    """Add a user with mosquitto_passwd itself (independent of the code under test)."""
    binary = shutil.which("mosquitto_passwd") or str(Path(mosquitto_binary()).with_name("mosquitto_passwd"))
    create = [] if password_file.exists() else ["-c"]
    subprocess.run([binary, *create, "-b", str(password_file), username, password], check=True)


def new_client(client_id: str, *, mqtt5: bool = False) -> mqtt.Client:
    if mqtt5:
        return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)


def use_tls(client: mqtt.Client, *, ca: Path | None, pair: KeyPair | None) -> None:
    """TLS with ``ca`` as the only trusted root (None: the system's roots) and ``pair`` as the
    client certificate (None: no certificate)."""
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if pair is not None:
        context.load_cert_chain(str(pair.cert), str(pair.key))
    client.tls_set_context(context)


def try_connect(client: mqtt.Client, port: int, *, attempts: int = 200) -> Outcome:
    """Connect and run the network loop by hand until a CONNACK or the connection's end.

    Bounded by loop iterations (each waits at most 0.1 s for traffic), not by a clock: a broker
    answers a CONNECT in far fewer."""
    result: list[Outcome] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        failed = getattr(reason, "is_failure", False)
        result.append(Outcome(not failed, str(reason)))

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port, keepalive=30)
    except (ssl.SSLError, OSError) as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}")
    for _ in range(attempts):
        try:
            rc = client.loop(timeout=0.1)
        except (ssl.SSLError, OSError) as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}")
        if result:
            return result[0]
        if rc != mqtt.MQTT_ERR_SUCCESS:
            return Outcome(False, f"connection closed before CONNACK: {mqtt.error_string(rc)}")
    return Outcome(False, "no CONNACK")
