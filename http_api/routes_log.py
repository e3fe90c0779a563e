"""The transparency log over HTTP: checkpoints, proofs and (for admins) the entries.

Checkpoints, the log key and proofs are public: they are hashes and signatures,
and anyone holding an entry (a seizure report, a brand's own export) must be
able to check it without an account. The entries themselves carry scan facts
(coarse places, device ids) and are for registry admins.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from http_api.deps import AdminDep, ServicesDep, SessionDep
from transparency import store

router = APIRouter(prefix="/v1/log", tags=["transparency log"])
NOTE_MEDIA = "text/plain; charset=utf-8"
Index = Annotated[int, Query(ge=0, le=2**62)]
Size = Annotated[int, Query(ge=1, le=2**62)]


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


@router.get("/checkpoint", summary="The latest signed checkpoint (C2SP signed note)")
async def checkpoint(services: ServicesDep) -> Response:
    def sign() -> str:
        with Session(services.engine) as session:
            return services.log.checkpoint(session.connection(), services.clock()).note

    note = await run_in_threadpool(sign)
    return Response(note, media_type=NOTE_MEDIA, headers={"Cache-Control": "no-store"})


@router.get("/key", summary="The log's public key (PEM) and its note verifier key")
def key(services: ServicesDep) -> JSONResponse:
    return JSONResponse(
        {
            "origin": services.log.origin,
            "key_name": services.log.key_name,
            "public_key_pem": services.log.public_key_pem().decode("ascii"),
            "verifier_key": services.log.verifier_key(),
        }
    )


@router.get("/proof/inclusion", summary="RFC 9162 inclusion proof of one entry")
def inclusion(session: SessionDep, leaf_index: Index, tree_size: Size) -> JSONResponse:
    leaf, path = store.inclusion_proof(session.connection(), leaf_index, tree_size)
    return JSONResponse(
        {
            "leaf_index": leaf_index,
            "tree_size": tree_size,
            "leaf_hash": _b64(leaf),
            "audit_path": [_b64(p) for p in path],
        }
    )


@router.get("/proof/consistency", summary="RFC 9162 consistency proof between two sizes")
def consistency(session: SessionDep, first: Size, second: Size) -> JSONResponse:
    proof = store.consistency_proof(session.connection(), first, second)
    return JSONResponse({"first": first, "second": second, "proof": [_b64(p) for p in proof]})


@router.get("/entries", summary="Entries start..end-1 (at most 1000), for registry admins")
def entries(
    admin: AdminDep,
    session: SessionDep,
    start: Index,
    end: Annotated[int, Query(ge=1, le=2**62)],
) -> JSONResponse:
    rows = store.read_entries(session.connection(), start, end)
    return JSONResponse(
        {
            "entries": [
                {
                    "index": row["idx"],
                    "kind": row["kind"],
                    "ref": row["ref"],
                    "body": row["body"],
                    "logged_at": str(row["logged_at"]),
                }
                for row in rows
            ]
        }
    )
