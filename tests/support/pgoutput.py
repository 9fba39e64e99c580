"""A decoder of PostgreSQL's logical replication protocol (pgoutput, version 1), enough to read back
the row changes a CDC tool subscribing to the simulator's publication would receive."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field


@dataclass
class Change:
    kind: str  # insert, update, delete, truncate
    table: str  # schema.table
    new: dict[str, str | None] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from("!" + fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return int(value)

    def byte(self) -> str:
        self.at += 1
        return chr(self.data[self.at - 1])

    def string(self) -> str:
        end = self.data.index(b"\0", self.at)
        text = self.data[self.at : end].decode()
        self.at = end + 1
        return text

    def tuple(self) -> list[str | None]:
        values: list[str | None] = []
        for _ in range(self.take("h")):
            kind = self.byte()
            if kind == "t":
                length = self.take("i")
                values.append(self.data[self.at : self.at + length].decode())
                self.at += length
            elif kind in "nu":
                values.append(None)
            else:
                raise ValueError(f"unexpected tuple value kind {kind!r}")
        return values


def decode(messages: list[bytes]) -> list[Change]:
    """Row changes, in order, from ``pg_logical_slot_get_binary_changes`` rows of a pgoutput slot."""
    relations: dict[int, tuple[str, list[str]]] = {}
    changes: list[Change] = []
    for message in messages:
        r = _Reader(bytes(message))
        kind = r.byte()
        if kind == "R":
            relid = r.take("I")
            namespace, name = r.string(), r.string()
            r.byte()  # replica identity
            columns = []
            for _ in range(r.take("h")):
                r.byte()  # flags
                columns.append(r.string())
                r.take("I")  # type oid
                r.take("i")  # type modifier
            relations[relid] = (f"{namespace}.{name}", columns)
        elif kind in "IUD":
            table, columns = relations[r.take("I")]
            marker = r.byte()
            if kind in "UD" and marker in "KO":
                old = r.tuple()
                if kind == "D":
                    changes.append(Change("delete", table, dict(zip(columns, old, strict=True))))
                    continue
                marker = r.byte()
            assert marker == "N", f"unexpected marker {marker!r}"
            values = r.tuple()
            changes.append(
                Change("insert" if kind == "I" else "update", table, dict(zip(columns, values, strict=True)))
            )
        elif kind == "T":
            changes.append(Change("truncate", ""))
        # B(egin), C(ommit), O(rigin), Y (type) carry no row data.
    return changes
