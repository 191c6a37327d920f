"""The reference data of the upload form, kept as data in `reference_data.json`.

Bid cycles (with their CBAs), document types (with their allowed descriptions) and the US state
names used by the CBA search. `sync_reference_data` loads the file into the database and may run
any number of times: rows are matched by their natural keys, added when missing, updated otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.documents.models import BidCycle, Cba, DocumentDescription, DocumentType

DATA_FILE = Path(__file__).with_name("reference_data.json")


@lru_cache
def load() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def state_names() -> dict[str, str]:
    """Two-letter state code -> state name."""
    return dict(load()["states"])


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def sync_reference_data(*, db: Session) -> dict[str, int]:
    """Insert or update every reference row from the data file; returns how many rows of each kind."""
    data = load()
    counts = {"bid_cycles": 0, "document_types": 0, "cbas": 0}
    for cycle_data in data["bid_cycles"]:
        cycle = db.scalar(select(BidCycle).where(BidCycle.name == cycle_data["name"]))
        if cycle is None:
            cycle = BidCycle(name=cycle_data["name"])
            db.add(cycle)
        cycle.is_open = cycle_data["is_open"]
        cycle.is_default = cycle_data.get("is_default", False)
        cycle.contract_start = _date(cycle_data.get("contract_start"))
        cycle.contract_end = _date(cycle_data.get("contract_end"))
        db.flush()
        existing = {c.code: c for c in db.scalars(select(Cba).where(Cba.bid_cycle_pk == cycle.id))}
        for cba_data in cycle_data["cbas"]:
            cba = existing.get(cba_data["code"])
            if cba is None:
                cba = Cba(bid_cycle_pk=cycle.id, code=cba_data["code"])
                db.add(cba)
            cba.name = cba_data["name"]
            cba.state = cba_data["states"][0]
            cba.states = "-".join(cba_data["states"])
        counts["bid_cycles"] += 1
        counts["cbas"] += len(cycle_data["cbas"])

    for order, type_data in enumerate(data["document_types"]):
        doc_type = db.scalar(select(DocumentType).where(DocumentType.code == type_data["code"]))
        if doc_type is None:
            doc_type = DocumentType(code=type_data["code"])
            db.add(doc_type)
        doc_type.name = type_data["name"]
        doc_type.requires_cba = type_data["requires_cba"]
        doc_type.help = type_data.get("help")
        doc_type.sort_order = order
        db.flush()
        descriptions = {
            d.code: d
            for d in db.scalars(select(DocumentDescription).where(DocumentDescription.document_type_pk == doc_type.id))
        }
        for d_order, desc_data in enumerate(type_data["descriptions"]):
            desc = descriptions.get(desc_data["code"])
            if desc is None:
                desc = DocumentDescription(document_type_pk=doc_type.id, code=desc_data["code"])
                db.add(desc)
            desc.name = desc_data["name"]
            desc.help = desc_data.get("help")
            desc.sort_order = d_order
        counts["document_types"] += 1
    db.flush()
    return counts
