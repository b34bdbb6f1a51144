"""Tamper evidence for the services layer: the signing key, verify, checkpoints, export.

The Ed25519 key pair lives in the data folder (`audit/signing.key`, PKCS#8
PEM, file mode 0600), made on first use. Projections never read it: the
services layer hands them a signer (`signing_projection`) or signs the
checkpoints they recorded later (`sign_pending`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from projections.audit_chain import (
    AuditChainProjection,
    AuditChainView,
    Checkpoint,
    Signer,
    Verdict,
)

from .app import Workshops
from .bootstrap import Stack
from .decision import DecisionRecord

__all__ = [
    "APPLICATION",
    "Exported",
    "KeyPair",
    "caught_up_chain",
    "export",
    "key_path",
    "load_key",
    "record_checkpoint",
    "signing_projection",
    "verify",
]

APPLICATION = Workshops.name
CHECKPOINTS_FILE = "checkpoints.jsonl"
PUBLIC_KEY_FILE = "public.pem"
LOG_FILE = "events.csv"


def key_path(data_dir: Path) -> Path:
    return data_dir / "audit" / "signing.key"


@dataclass(frozen=True)
class KeyPair:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def check(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def public_pem(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def fingerprint(self) -> str:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]


def load_key(path: Path) -> KeyPair:
    """The key pair at `path`, made (mode 0600, folder 0700) when there is none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return KeyPair(key)


def signing_projection(path: Path) -> type[AuditChainProjection]:
    """The chain projection signing checkpoints as it records them, with the key at `path`."""
    signer: Signer = load_key(path).sign
    return AuditChainProjection.with_signer(signer)


@contextmanager
def caught_up_chain(stack: Stack, timeout: float = 600) -> Iterator[AuditChainView]:
    """The chain brought up to the log's end, its pending checkpoints signed."""
    key = load_key(key_path(stack.settings.data_dir))
    projection = AuditChainProjection.with_signer(key.sign)
    with stack.caught_up(projection, AuditChainView, timeout=timeout) as view:
        view.sign_pending(key.sign)
        yield view


def verify(stack: Stack) -> Verdict:
    """Catch the chain up, then re-read every stored event and compare."""
    key = load_key(key_path(stack.settings.data_dir))
    with caught_up_chain(stack) as view:
        return view.verify(APPLICATION, key.check)


def record_checkpoint(stack: Stack, at: datetime | None = None) -> Checkpoint:
    """A signed checkpoint at the chain's head, now (or at `at`)."""
    key = load_key(key_path(stack.settings.data_dir))
    with caught_up_chain(stack) as view:
        return view.add_checkpoint(at or datetime.now(UTC), key.sign)


@dataclass(frozen=True)
class Exported:
    folder: Path
    checkpoints: int
    log: bool


def export(stack: Stack, folder: Path, with_log: bool = False) -> Exported:
    """Write checkpoints.jsonl, public.pem and (with_log) events.csv into `folder`."""
    key = load_key(key_path(stack.settings.data_dir))
    with caught_up_chain(stack) as view:
        folder.mkdir(parents=True, exist_ok=True)
        checkpoints = view.checkpoints()
        lines = (json.dumps(c.as_json(), sort_keys=True) + "\n" for c in checkpoints)
        (folder / CHECKPOINTS_FILE).write_text("".join(lines))
        (folder / PUBLIC_KEY_FILE).write_bytes(key.public_pem())
        if with_log:
            with (folder / LOG_FILE).open("wb") as out:
                view.export_rows(APPLICATION, out.write)
    return Exported(folder, len(checkpoints), with_log)


def attach_checkpoint(stack: Stack, record: DecisionRecord) -> DecisionRecord:
    """The decision record with the signed checkpoint taken when its results were declared."""
    key = load_key(key_path(stack.settings.data_dir))
    with caught_up_chain(stack) as view:
        reason = f"results {record.workshop_id}"
        found = [c for c in view.checkpoints() if c.reason == reason and c.signature]
    if not found:
        return record
    checkpoint = found[-1]
    return record.model_copy(
        update={
            "checkpoint": {
                "position": checkpoint.position,
                "count": checkpoint.count,
                "chain": checkpoint.chain.hex(),
                "at": checkpoint.at.isoformat(),
                "reason": checkpoint.reason,
                "public_key_fingerprint": key.fingerprint(),
            },
            "signature": checkpoint.signature.hex() if checkpoint.signature else None,
        }
    )
