"""The hash-chained audit log.

Assumptions: events are only ever appended, inside the same transaction as the change they
record, while a registry write lock is held (see ``registry.serialise_registry_writes``), so the
chain never forks. Each event commits to:

- the event before it (``prev_hash``), so editing, removing or inserting an event breaks the chain;
- the registry state the change produced (``state``: every version's digest and stage, the
  aliases; or the stage policy), so editing a row behind the log's back is detected by comparing
  the last committed state with the rows (``verify`` in ``registry``);
- who the database says wrote it (``db_user``: PostgreSQL's ``session_user``, set by a trigger
  whatever the client sends; None on SQLite, where the database knows no users).

A chain that anyone with write access can recompute proves nothing on its own: an *anchor* (the
head's number and hash, kept outside the store) pins it; ``verify_anchor`` proves the log still
extends it. Events written before migration 0004 carry neither ``state`` nor ``db_user`` and
hash as they did then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from blake3 import blake3
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row

from ..entities import AuditEvent
from . import tables as t
from .base import now_ms

GENESIS = "0" * 64


def dump(value: Any) -> str | None:
    """The one canonical JSON text of a value stored in (and hashed with) an event."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def load(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def event_hash(
    seq: int, ts_ms: int, actor: str, action: str, entity_type: str, entity_id: str,
    before: str | None, after: str | None, comment: str | None, prev_hash: str,
    state: str | None = None, db_user: str | None = None,
) -> str:  # fmt: skip
    fields: list[Any] = [seq, ts_ms, actor, action, entity_type, entity_id, before, after, comment, prev_hash]
    if state is not None or db_user is not None:
        fields += [state, db_user]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return blake3(canonical.encode()).hexdigest()


def to_event(row: Row[Any]) -> AuditEvent:
    m = row._mapping
    return AuditEvent(
        seq=m["seq"], ts_ms=m["ts_ms"], actor=m["actor"], action=m["action"], entity_type=m["entity_type"],
        entity_id=m["entity_id"], before=load(m["before"]), after=load(m["after"]), comment=m["comment"],
        prev_hash=m["prev_hash"], hash=m["hash"], state=load(m["state"]), db_user=m["db_user"],
    )  # fmt: skip


def append_event(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    comment: str | None,
    state: Any,
    db_user: str | None,
) -> AuditEvent:
    """Append one event after the head (the caller holds the registry write lock)."""
    head = conn.execute(select(t.audit_head.c.seq, t.audit_head.c.hash).where(t.audit_head.c.id == 1)).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    ts = now_ms()
    before_s, after_s, state_s = dump(before), dump(after), dump(state)
    digest = event_hash(seq, ts, actor, action, entity_type, entity_id, before_s, after_s, comment, prev,
                        state_s, db_user)  # fmt: skip
    conn.execute(
        insert(t.audit_events).values(
            seq=seq, ts_ms=ts, actor=actor, action=action, entity_type=entity_type, entity_id=entity_id,
            before=before_s, after=after_s, comment=comment, prev_hash=prev, hash=digest, state=state_s,
            db_user=db_user,
        )
    )  # fmt: skip
    if head:
        conn.execute(update(t.audit_head).where(t.audit_head.c.id == 1).values(seq=seq, hash=digest))
    else:
        conn.execute(insert(t.audit_head).values(id=1, seq=seq, hash=digest))
    return AuditEvent(seq, ts, actor, action, entity_type, entity_id, before, after, comment, prev, digest,
                      state, db_user)  # fmt: skip


@dataclass
class ChainCheck:
    """What walking the chain found: the first problem, or the head and each entity's last state."""

    events: int
    problem: str | None = None
    bad_seq: int | None = None
    head_seq: int = 0
    head_hash: str = GENESIS
    states: dict[tuple[str, str], tuple[int, str]] | None = None  # (type, id) → (seq, state JSON)
    hashes: dict[int, str] | None = None


def walk_chain(conn: Connection, keep_hashes: bool = False) -> ChainCheck:
    """Recompute every event's hash in order; stop at the first that does not fit."""
    head = conn.execute(select(t.audit_head.c.seq, t.audit_head.c.hash)).first()
    rows = conn.execute(select(t.audit_events).order_by(t.audit_events.c.seq))
    expected_seq, prev, count = 1, GENESIS, 0
    states: dict[tuple[str, str], tuple[int, str]] = {}
    hashes: dict[int, str] = {}
    for row in rows:
        m = row._mapping
        count += 1
        if m["seq"] != expected_seq:
            return ChainCheck(count, f"event {expected_seq} is missing", expected_seq)
        if m["prev_hash"] != prev:
            return ChainCheck(count, f"event {m['seq']} does not chain to event {m['seq'] - 1}", m["seq"])
        recomputed = event_hash(
            m["seq"], m["ts_ms"], m["actor"], m["action"], m["entity_type"], m["entity_id"],
            m["before"], m["after"], m["comment"], m["prev_hash"], m["state"], m["db_user"],
        )  # fmt: skip
        if recomputed != m["hash"]:
            return ChainCheck(count, f"event {m['seq']} was altered", m["seq"])
        if m["state"] is not None:
            states[(m["entity_type"], m["entity_id"])] = (m["seq"], m["state"])
        if keep_hashes:
            hashes[m["seq"]] = m["hash"]
        prev, expected_seq = m["hash"], expected_seq + 1
    last = expected_seq - 1
    if head is None and last:
        return ChainCheck(count, "the chain's head record is missing", 1)
    if head is not None and (head.seq != last or head.hash != prev):
        if head.seq > last:
            return ChainCheck(count, f"event {last + 1} is missing (the chain ends at {last})", last + 1)
        return ChainCheck(count, f"event {head.seq} was altered", head.seq)
    return ChainCheck(count, head_seq=last, head_hash=prev, states=states, hashes=hashes if keep_hashes else None)


def audit_events(
    conn: Connection, entity_type: str | None, entity_id: str | None, limit: int | None, newest_first: bool
) -> list[AuditEvent]:
    query = select(t.audit_events)
    if entity_type is not None:
        query = query.where(t.audit_events.c.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(t.audit_events.c.entity_id == entity_id)
    query = query.order_by(t.audit_events.c.seq.desc() if newest_first else t.audit_events.c.seq)
    if limit is not None:
        query = query.limit(limit)
    return [to_event(row) for row in conn.execute(query)]


def parse_anchor(text: str) -> tuple[int | None, str] | None:
    """``SEQ:HASH`` or ``HASH`` (64 hex digits) → (seq, hash); None when it is neither."""
    text = text.strip()
    seq_text, _, digest = text.rpartition(":")
    digest = digest.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None
    if seq_text == "":
        return None, digest
    if not seq_text.isascii() or not seq_text.isdigit():
        return None
    return int(seq_text), digest


def check_anchor(hashes: dict[int, str], anchor: tuple[int | None, str]) -> str | None:
    """None when the verified chain still contains the anchored event, else what is wrong."""
    seq, digest = anchor
    if seq is None:
        return None if digest in hashes.values() else f"no event has the anchored hash {digest[:16]}…"
    found = hashes.get(seq)
    if found is None:
        return f"the log has no event {seq} any more (anchor {seq}:{digest[:16]}…)"
    if found != digest:
        return f"event {seq} is not the anchored one: history before the anchor was rewritten"
    return None
