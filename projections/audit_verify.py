"""Offline verification of an audit bundle (`kemitraan audit verify`), needing no database.

Imports only the standard library, `projections.merkle` and `projections.audit_format` (which
need `rfc8785` and `cryptography`): an auditor can run it on a laptop with the bundle alone.

A bundle is JSON Lines: a header, the public keys, the signed checkpoints, then one entry per
leaf in leaf order: a full event (its stored record in base64, the fields of its leaf, its leaf
hash as logged) or, outside the exporter's region, only `{leaf_index, leaf_hash}`.

What is checked, stopping at the first bad leaf:
- every key's id is derived from its public key, every checkpoint's signature and note hold;
- leaves are numbered 0, 1, 2, ... with no gap (a deleted event) and no entry outside the log
  (an inserted one), seqs strictly increase (a reordering);
- each record hashes to its `record_sha256`, its readable form matches the record, and the leaf
  recomputed from the fields (ADR 0013) equals the leaf hash logged when it was appended;
- the root over the first N leaves equals every signed checkpoint of size N, and a checkpoint
  saved earlier (`--checkpoint`) is genuine and a prefix of this log;
- every leaf is covered by a signed checkpoint (leaves after the newest one could have been
  appended or rewritten by anyone: `audit export` always signs one covering the whole bundle);
- every event is shown with its stored record (a readable form alone proves nothing), and a
  bundle exported without a region leaves no event out (a bare leaf there is a hidden event);
- with pinned keys (`--keys`, the answer of `GET /v1/audit/keys` saved earlier), only
  checkpoints signed by those keys count; without, the bundle's own keys are trusted, and the
  report says so (a bundle could then bring its own key along with a forged tail).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from projections import merkle
from projections.audit_format import check_checkpoint, leaf_bytes, record_display

BUNDLE_FORMAT = "kemitraan-audit-bundle/1"


@dataclass
class Report:
    leaves: int = 0
    events: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_leaf: int | None = None
    root: str | None = None
    keys_pinned: bool = False
    unsigned: int = 0  # leaves after the newest checkpoint (only when they are allowed)
    trust_note: str | None = None  # which keys were trusted, when not a bundle's or pinned

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad_leaf(self, index: int, why: str) -> None:
        if self.first_bad_leaf is None or index < self.first_bad_leaf:
            self.first_bad_leaf = index
        self.problems.append(f"leaf {index}: {why}")

    def summary(self) -> str:
        if self.ok:
            trust = self.trust_note or ("signed with the pinned keys" if self.keys_pinned else
                                        "keys taken from the bundle itself: pin them with "
                                        "--keys")
            tail = (f"; the last {self.unsigned} leaves are not yet covered by a checkpoint"
                    if self.unsigned else "")
            return (f"OK: {self.leaves} leaves ({self.events} events shown), "
                    f"{self.checkpoints} signed checkpoints verified ({trust}), "
                    f"root {self.root}{tail}")
        head = (f"FAILED: first bad leaf: {self.first_bad_leaf}"
                if self.first_bad_leaf is not None else "FAILED")
        return "\n".join([head, *self.problems[:20]])


@dataclass
class Bundle:
    header: dict[str, Any]
    keys: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]
    entries: Iterable[dict[str, Any]]


def read_bundle(path: str) -> Bundle:
    """Streams a bundle file: header, keys and checkpoints first, then the entries."""
    f = open(path, encoding="utf-8")  # closed when the entries are exhausted

    def parsed() -> Iterator[Any]:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                f.close()
                raise ValueError(f"line {number} is not JSON: the file is truncated or "
                                 "damaged") from None

    lines = parsed()
    header = next(lines, None)
    if not isinstance(header, dict) or header.get("format") != BUNDLE_FORMAT:
        f.close()
        raise ValueError(f"{path} is not a {BUNDLE_FORMAT} bundle")
    keys: list[dict[str, Any]] = []
    checkpoints: list[dict[str, Any]] = []
    first_entry: list[dict[str, Any]] = []
    for item in lines:
        if "key" in item:
            keys.append(item["key"])
        elif "checkpoint" in item:
            checkpoints.append(item["checkpoint"])
        else:
            first_entry.append(item)
            break

    def entries() -> Iterator[dict[str, Any]]:
        try:
            yield from first_entry
            for item in lines:
                if "key" in item or "checkpoint" in item:
                    raise ValueError("keys and checkpoints must come before the entries")
                yield item
        finally:
            f.close()

    return Bundle(header, keys, checkpoints, entries())


def _hex32(value: Any) -> bytes | None:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _entry_leaf(entry: dict[str, Any], index: int, report: Report) -> bytes | None:
    """The leaf hash an entry stands for, or None (and a problem) when it does not hold."""
    logged = _hex32(entry.get("leaf_hash"))
    if logged is None:
        report.bad_leaf(index, "no valid leaf_hash")
        return None
    if "seq" not in entry:  # redacted: outside the exporter's region
        if any(k in entry for k in ("record", "display", "topic", "stream_id", "version")):
            report.bad_leaf(index, "a leaf without seq carries event fields (malformed)")
            return None
        return logged
    try:
        fields = {k: entry[k] for k in ("seq", "stream_id", "version", "topic", "record_sha256")}
        recomputed = merkle.leaf_hash(leaf_bytes(**fields))
    except (KeyError, TypeError, ValueError) as e:
        report.bad_leaf(index, f"malformed entry ({e})")
        return None
    record = entry.get("record")
    if record is None:
        report.bad_leaf(index, f"seq {entry['seq']}: the event comes without its stored record, "
                               "so what it shows cannot be checked")
        return None
    try:
        state = base64.b64decode(record, validate=True)
    except (binascii.Error, ValueError):
        report.bad_leaf(index, "record is not base64")
        return None
    if hashlib.sha256(state).hexdigest() != entry["record_sha256"]:
        report.bad_leaf(index, f"seq {entry['seq']}: the stored record was altered (its "
                               "SHA-256 differs from the one in the leaf)")
        return None
    if entry.get("display") != record_display(entry["topic"], state):
        report.bad_leaf(index, f"seq {entry['seq']}: the readable event differs from its "
                               "stored record")
        return None
    if recomputed != logged:
        report.bad_leaf(index, f"seq {entry['seq']}: the event differs from the one logged "
                               "(altered, deleted, moved or inserted in the store)")
        return None
    return logged


def verify(bundle: Bundle, saved: dict[str, Any] | None = None,
           pinned: list[dict[str, Any]] | None = None, signed_to_the_end: bool = True,
           trust_note: str | None = None) -> Report:
    """`pinned`: the only keys to trust (else the bundle's own). `signed_to_the_end`: every
    leaf must be covered by a checkpoint (an exported bundle); `audit check` of the live store
    allows the leaves folded since the newest one."""
    report = Report(keys_pinned=pinned is not None, trust_note=trust_note)
    keys = {}
    for k in (bundle.keys if pinned is None else pinned):
        keys[k.get("key_id")] = k
    checks: dict[int, bytes] = {}
    for cp in bundle.checkpoints:
        problem = check_checkpoint(cp, keys)
        if problem:
            report.problems.append(problem)
            continue
        size, root = int(cp["tree_size"]), bytes.fromhex(cp["root_hash"])
        if checks.get(size, root) != root:
            report.problems.append(f"two signed checkpoints of size {size} with different roots")
        checks[size] = root
        report.checkpoints += 1
    if saved is not None:
        problem = check_checkpoint(saved, keys)
        if problem:
            report.problems.append(f"saved {problem}" if problem.startswith("checkpoint")
                                   else f"saved checkpoint: {problem}")
        else:
            size, root = int(saved["tree_size"]), bytes.fromhex(saved["root_hash"])
            if checks.get(size, root) != root:
                report.problems.append(f"the saved checkpoint of size {size} contradicts a "
                                       "checkpoint in the bundle: the log was rewritten")
            checks[size] = root
    sizes = sorted(checks)
    frontier = merkle.Frontier()
    if 0 in checks and checks[0] != merkle.EMPTY_ROOT:
        report.problems.append("a checkpoint of size 0 has a root other than the empty tree's")
    verified_up_to = 0
    prev_seq = 0
    national = "region" in bundle.header and not bundle.header.get("region")
    for entry in bundle.entries:
        index = frontier.size
        given = entry.get("leaf_index")
        if given != index:
            if given is None:
                report.bad_leaf(index, f"seq {entry.get('seq')}: an event that is not in the "
                                       "log (inserted into the store)")
            elif isinstance(given, int) and given > index:
                report.bad_leaf(index, f"missing here (the next entry is leaf {given}): an "
                                       "event was deleted or moved")
            else:
                report.bad_leaf(index, f"entry numbered {given} out of place (reordered)")
            break
        seq = entry.get("seq")
        if seq is None and national:
            report.bad_leaf(index, "an event left out of a bundle exported without a region "
                                   "(only other regions' events may be left out): hidden")
            break
        if seq is not None:
            if not isinstance(seq, int) or seq <= prev_seq:
                report.bad_leaf(index, f"seq {seq} after seq {prev_seq}: reordered")
                break
            prev_seq = seq
            report.events += 1
        leaf = _entry_leaf(entry, index, report)
        if leaf is None:
            break
        frontier.append(leaf)
        if frontier.size in checks:
            if frontier.root() != checks[frontier.size]:
                report.bad_leaf(verified_up_to, f"the root over leaves [0, {frontier.size}) "
                                f"differs from the signed checkpoint: a leaf in "
                                f"[{verified_up_to}, {frontier.size}) was rewritten")
                break
            verified_up_to = frontier.size
    report.leaves = frontier.size
    report.root = frontier.root().hex()
    if report.first_bad_leaf is None:
        beyond = [s for s in sizes if s > frontier.size]
        if beyond:
            report.bad_leaf(frontier.size, f"missing: a signed checkpoint covers {beyond[-1]} "
                                           f"leaves, the log has {frontier.size}")
        declared = bundle.header.get("tree_size")
        if declared is not None and declared != frontier.size:
            report.problems.append(f"the header says {declared} leaves, the bundle has "
                                   f"{frontier.size}")
        signed = max(sizes, default=0)
        if checks and signed < frontier.size:
            if signed_to_the_end:
                report.bad_leaf(signed, f"leaves [{signed}, {frontier.size}) are covered by no "
                                        "signed checkpoint: they could have been appended or "
                                        "rewritten by anyone")
            else:
                report.unsigned = frontier.size - signed
    if not checks and report.ok:
        report.problems.append("no signed checkpoint to verify the log against")
    return report
