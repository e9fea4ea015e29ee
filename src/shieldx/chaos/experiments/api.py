"""Routes: start an experiment, read its status, list, abort."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Request

from shieldx.chaos.experiments.domain import ExperimentError, parse_experiment
from shieldx.chaos.experiments.schemas import ExperimentIn, ExperimentStatus, ExperimentSummary
from shieldx.chaos.experiments.service import ChaosEngine, NotAdmitted, stored_document
from shieldx.platform.app import provided, requires, requires_second_factor
from shieldx.platform.auth import Principal
from shieldx.platform.errors import Problem
from shieldx.platform.roles import Role

router = APIRouter(prefix="/chaos", tags=["chaos"])
Engine = Annotated[ChaosEngine, Depends(provided(ChaosEngine))]
Admin = Annotated[Principal, Depends(requires(Role.ADMIN))]
# Starting an experiment injects faults into production: a second factor when admin_mfa is on.
Operator = Annotated[Principal, Depends(requires_second_factor(Role.ADMIN))]
Reader = Annotated[Principal, Depends(requires(Role.ADMIN, Role.AUDITOR))]


@router.post("/experiment", status_code=202, summary="Start an experiment (admin)")
async def start_experiment(
    request: Request,
    engine: Engine,
    _: Operator,
    body: ExperimentIn,
) -> ExperimentStatus:
    """Take a Chaos Toolkit experiment or the seed's short form; answer its running status."""
    definition = body.document()
    base_url = str(request.base_url).rstrip("/")
    try:
        experiment = parse_experiment(
            definition,
            max_ttl_s=engine.max_ttl_s,
            configuration={"shieldx_url": base_url},
        )
    except ExperimentError as exc:
        raise Problem(
            422,
            "the experiment is not valid: " + "; ".join(exc.problems),
            type="invalid-experiment",
            problems=exc.problems,
        ) from exc
    try:
        run = await engine.start(experiment=experiment, definition=definition, base_url=base_url)
    except NotAdmitted as exc:
        raise Problem(
            409,
            "the safety rules refuse this experiment now: " + "; ".join(exc.reasons),
            type="chaos-not-admitted",
            reasons=exc.reasons,
        ) from exc
    return ExperimentStatus.model_validate(run.document())


@router.get("/status/{experiment_id}", summary="An experiment's status and figures")
async def experiment_status(experiment_id: str, engine: Engine, _: Reader) -> ExperimentStatus:
    """The status document of one experiment (live if it runs here, else as stored)."""
    run = engine.runs.get(experiment_id)
    if run is not None:
        return ExperimentStatus.model_validate(run.document())
    row = await anyio.to_thread.run_sync(lambda: engine.store.get(experiment_id))
    if row is None:
        raise Problem(404, f"no experiment with id {experiment_id!r}", type="not-found")
    return ExperimentStatus.model_validate(stored_document(row))


@router.get("/experiments", summary="Experiments, newest first")
async def list_experiments(engine: Engine, _: Reader, limit: int = 50) -> list[ExperimentSummary]:
    """The newest LIMIT experiments."""
    if not 1 <= limit <= 1000:
        raise Problem(422, f"limit must be from 1 to 1000 (got {limit})", type="bad-request")
    rows = await anyio.to_thread.run_sync(lambda: engine.store.list(limit=limit))
    return [
        ExperimentSummary(
            id=r["id"],
            title=r["title"],
            type=r["fault_type"],
            status=r["status"],
            started_at=r["started_at"].isoformat(),
            rolled_back=bool(r["rolled_back"]),
        )
        for r in rows
    ]


@router.post("/experiments/{experiment_id}/abort", summary="Abort a running experiment (admin)")
async def abort_experiment(experiment_id: str, engine: Engine, _: Admin) -> ExperimentStatus:
    """Stop an experiment now; it rolls back as usual. Answers its status."""
    run = engine.abort(experiment_id)
    if run is None:
        raise Problem(
            404, f"no experiment {experiment_id!r} runs in this process", type="not-found"
        )
    return ExperimentStatus.model_validate(run.document())
