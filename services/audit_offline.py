"""Verify an exported event log against signed checkpoints, offline.

    python -m services.audit_offline --log events.csv \\
        --checkpoints checkpoints.jsonl --public-key public.pem

`events.csv` is what `psql \\copy (SELECT notification_id, originator_id,
originator_version, topic, state FROM quickwins_events ORDER BY
notification_id) TO 'events.csv' CSV` writes (or `quickwins audit export
--log`); `checkpoints.jsonl` and `public.pem` come from `quickwins audit
export`. The chain is recomputed here from the rows alone, independently of
the project's own code (hashlib, json, struct and `cryptography` only), with
the encoding given in docs/audit.md. Exit status 0: every checkpoint's
signature and chain hold; 1: one does not (the first is named); 2: bad input.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

Row = tuple[int, str, int, str | None, bytes | None]

_HEADER = struct.Struct(">qqIII")


def leaf(row: Row) -> bytes:
    """h_i = SHA-256(0x00 || i64 position || i64 version || u32 len O, T, S || O || T || S)."""
    position, originator_id, version, topic, state = row
    o, t, st = originator_id.encode(), (topic or "").encode(), state or b""
    return hashlib.sha256(
        b"\x00" + _HEADER.pack(position, version, len(o), len(t), len(st)) + o + t + st
    ).digest()


def message(checkpoint: dict[str, Any]) -> bytes:
    """The signed bytes: canonical JSON of position, count, chain, at (UTC), reason."""
    at = datetime.fromisoformat(checkpoint["at"]).astimezone(UTC).isoformat()
    body = {
        "at": at,
        "chain": checkpoint["chain"],
        "count": checkpoint["count"],
        "position": checkpoint["position"],
        "reason": checkpoint["reason"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class OfflineVerdict:
    rows: int = 0
    checkpoints: int = 0  # checkpoints whose signature and chain hold
    bad: str | None = None  # the first failure, in words
    intact_up_to: int = 0  # the last position a holding checkpoint covers
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bad is None


def verify_offline(
    rows_iter: Iterable[Row], checkpoints: Sequence[dict[str, Any]], public_key_pem: bytes
) -> OfflineVerdict:
    """Recompute the chain over `rows_iter` (in position order); check every checkpoint."""
    key = load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    verdict = OfflineVerdict()
    pending: dict[int, list[dict[str, Any]]] = {}
    for cp in checkpoints:
        signature = cp.get("signature")
        if not signature:
            verdict.notes.append(f"checkpoint at {cp['position']} is not signed: skipped")
            continue
        try:
            key.verify(bytes.fromhex(signature), message(cp))
        except InvalidSignature:
            verdict.bad = f"checkpoint at position {cp['position']}: bad signature"
            return verdict
        pending.setdefault(int(cp["position"]), []).append(cp)
    chain, count, last = bytes(32), 0, 0
    for row in rows_iter:
        if row[0] <= last:
            verdict.bad = f"position {row[0]} is out of order (after {last})"
            return verdict
        chain = hashlib.sha256(b"\x01" + chain + leaf(row)).digest()
        count, last = count + 1, row[0]
        for cp in pending.pop(last, ()):
            if (int(cp["count"]), cp["chain"]) != (count, chain.hex()):
                verdict.bad = (
                    f"checkpoint at position {last} ({cp['reason']}) does not match the log:"
                    f" the log changed after position {verdict.intact_up_to}"
                )
                return verdict
            verdict.checkpoints += 1
            verdict.intact_up_to = last
        verdict.rows = count
    if pending:
        verdict.bad = f"checkpoint at position {min(pending)}: no such position in the log"
    return verdict


def read_csv(path: Path) -> Iterator[Row]:
    """Rows of `psql \\copy ... CSV`: the bytea column as \\x-prefixed hex."""
    with path.open(newline="") as handle:
        for line, record in enumerate(csv.reader(handle), start=1):
            try:
                position, originator_id, version, topic, state = record
                data = bytes.fromhex(state[2:]) if state.startswith("\\x") else None
                if state and data is None:
                    raise ValueError("state is not \\x hex")
                yield int(position), originator_id, int(version), topic or None, data
            except ValueError as error:
                raise ValueError(f"{path.name} line {line}: {error}") from None


def read_checkpoints(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.audit_offline", description=__doc__)
    parser.add_argument("--log", type=Path, required=True, help="events.csv")
    parser.add_argument("--checkpoints", type=Path, required=True, help="checkpoints.jsonl")
    parser.add_argument("--public-key", type=Path, required=True, help="public.pem")
    args = parser.parse_args(argv)
    try:
        checkpoints = read_checkpoints(args.checkpoints)
        verdict = verify_offline(read_csv(args.log), checkpoints, args.public_key.read_bytes())
    except (OSError, ValueError, KeyError) as error:
        print(f"audit_offline: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    for note in verdict.notes:
        print(f"note: {note}")
    if not verdict.ok:
        print(f"TAMPERED: {verdict.bad}")
        return 1
    print(
        f"ok: {verdict.rows} events; {verdict.checkpoints} signed checkpoints hold"
        f" (the log is intact up to position {verdict.intact_up_to})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
