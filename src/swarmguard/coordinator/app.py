"""The coordinator's FastAPI app: agents, alert intake, decisions, CrowdSec bouncers, dashboard.

``create_app(settings)`` returns the ASGI app, so tests drive it in-process
(``fastapi.testclient``) and ``server.serve`` runs it under uvicorn. Every route authenticates:
agents with their own bearer token, the administrator (revoke, listings, dashboard data) with
the admin token, CrowdSec bouncers with ``X-Api-Key``. Bad input gets a 4xx with
``{"detail": ...}`` and changes nothing: 401 bad or missing credentials, 403 another agent's
token, 413 body over ``max_body_bytes`` or more than ``max_batch`` items, 422 malformed JSON or
wrong types.

Examples
--------
>>> app = create_app(ServiceSettings(db=":memory:", correlate=False))
>>> sorted({r.path for r in app.routes if r.path.startswith("/v1")})
['/v1/decisions', '/v1/decisions/stream']
"""

import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from swarmguard.coordinator.dashboard import PAGE
from swarmguard.coordinator.limits import BodyLimitMiddleware
from swarmguard.coordinator.metrics import CONTENT_TYPE
from swarmguard.coordinator.schemas import (
    AGENT_ID,
    AgentInfo,
    AgentList,
    AlertBatch,
    AlertList,
    CrowdsecStream,
    DecisionList,
    DecisionsIn,
    DecisionsResponse,
    FeedbackIn,
    FeedbackResponse,
    HeartbeatRequest,
    IntakeResponse,
    RatePoint,
    RegisterRequest,
    RegisterResponse,
    RevokeResponse,
    Stats,
    StoredAlert,
    StreamResponse,
)
from swarmguard.coordinator.service import AlertObserver, Clock, CoordinatorService, _now
from swarmguard.coordinator.settings import ServiceSettings
from swarmguard.respond.ledger import DecisionLedger

__all__ = ["Principal", "create_app"]

DESCRIPTION = """\
swarmguard's coordinator: edge agents register, send alert batches (deduplicated by alert uid,
so resending is harmless) and their local decisions; correlation across agents adds decisions;
every agent pulls the shared blocklist from a cursor, and CrowdSec bouncers pull it through the
Local API's bouncer endpoints. Agents authenticate with `Authorization: Bearer <agent token>`,
the administrator with the admin token, bouncers with `X-Api-Key`.
"""

_bearer = HTTPBearer(auto_error=False, description="an agent's token or the admin token")
_api_key = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="a CrowdSec bouncer key (--bouncer-key)"
)


@dataclass(frozen=True)
class Principal:
    """Who sent a request: one agent, or the administrator."""

    agent_id: str | None
    admin: bool = False


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def create_app(
    settings: ServiceSettings,
    *,
    clock: Clock = _now,
    correlator: AlertObserver | None = None,
    ledger: DecisionLedger | None = None,
) -> FastAPI:
    """Build the coordinator's ASGI app (store and ledger opened now, closed at shutdown)."""
    svc = CoordinatorService(settings, clock=clock, correlator=correlator, ledger=ledger)
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    bouncer_keys = {n: k.get_secret_value() for n, k in settings.bouncer_keys.items()}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

    app = FastAPI(
        title="swarmguard coordinator",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "agents", "description": "registration and heartbeats"},
            {"name": "alerts", "description": "batched, deduplicated alert intake"},
            {"name": "decisions", "description": "the shared blocklist, explain and revoke"},
            {"name": "crowdsec", "description": "CrowdSec Local API bouncer endpoints"},
            {"name": "service", "description": "health, metrics, dashboard"},
        ],
    )
    app.state.service = svc
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)

    # -- authentication -------------------------------------------------------------------------

    def principal(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if creds is None:
            raise _unauthorized("missing bearer token (Authorization: Bearer TOKEN)")
        token = creds.credentials
        if admin_token is not None and hmac.compare_digest(token, admin_token):
            return Principal(agent_id=None, admin=True)
        agent = svc.store.agent_for_token(token)
        if agent is None:
            raise _unauthorized("unknown token")
        return Principal(agent_id=agent)

    Caller = Annotated[Principal, Depends(principal)]

    def admin(who: Caller) -> Principal:
        if not who.admin:
            raise HTTPException(403, "this needs the admin token")
        return who

    Admin = Annotated[Principal, Depends(admin)]

    def agent(who: Caller) -> str:
        if who.agent_id is None:
            raise HTTPException(403, "this needs an agent's token")
        return who.agent_id

    AgentId = Annotated[str, Depends(agent)]

    def bouncer(key: Annotated[str | None, Depends(_api_key)]) -> str:
        if not key:
            raise HTTPException(401, "missing X-Api-Key")
        for name, expected in bouncer_keys.items():
            if hmac.compare_digest(key, expected):
                return name
        raise HTTPException(401, "unknown X-Api-Key")

    Bouncer = Annotated[str, Depends(bouncer)]

    def same_agent(caller: str, agent_id: str) -> None:
        if caller != agent_id:
            raise HTTPException(403, f"this token belongs to agent '{caller}', not '{agent_id}'")

    def too_many(count: int, what: str) -> None:
        if count > settings.max_batch:
            raise HTTPException(413, f"{count} {what} in one request; at most {settings.max_batch}")

    # -- agents ---------------------------------------------------------------------------------

    @app.post("/api/v1/agents/register", tags=["agents"])
    def register(body: RegisterRequest, caller: AgentId) -> RegisterResponse:
        """Register (or re-register) the calling agent."""
        same_agent(caller, body.agent_id)
        svc.register(
            body.agent_id, version=body.version, addresses=body.addresses, enforcers=body.enforcers
        )
        return RegisterResponse(agent_id=body.agent_id, heartbeat_s=settings.heartbeat_s)

    @app.post("/api/v1/agents/{agent_id}/heartbeat", tags=["agents"])
    def heartbeat(
        agent_id: Annotated[str, Path(pattern=AGENT_ID)], body: HeartbeatRequest, caller: AgentId
    ) -> dict[str, bool]:
        """Report the calling agent's health (and that it is alive)."""
        same_agent(caller, agent_id)
        svc.heartbeat(agent_id, body.health)
        return {"ok": True}

    @app.get("/api/v1/agents", tags=["agents"])
    def list_agents(_who: Admin) -> AgentList:
        """Every registered agent with its health and last heartbeat (admin)."""
        return AgentList(
            agents=[
                AgentInfo(
                    agent_id=a.agent_id,
                    version=a.version,
                    addresses=a.addresses,
                    enforcers=a.enforcers,
                    registered_at=a.registered_at,
                    last_seen=a.last_seen,
                    alive=alive,
                    health=a.health,
                )
                for a, alive in svc.agents()
            ]
        )

    # -- alerts ---------------------------------------------------------------------------------

    @app.post("/api/v1/alerts", tags=["alerts"])
    def intake(body: AlertBatch, caller: AgentId) -> IntakeResponse:
        """Store a batch of alerts once each (by uid) and correlate the new ones."""
        too_many(len(body.alerts), "alerts")
        accepted, duplicates = svc.intake(caller, body.batch_id, body.alerts)
        return IntakeResponse(accepted=accepted, duplicates=duplicates)

    @app.get("/api/v1/alerts", tags=["alerts"])
    def recent_alerts(
        _who: Admin,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        offset: Annotated[int, Query(ge=0, description="skip this many (paging)")] = 0,
    ) -> AlertList:
        """Alerts newest first, ``limit`` from ``offset``, and the total stored (admin)."""
        rows, total = svc.recent_alerts(limit, offset)
        return AlertList(
            alerts=[
                StoredAlert(agent_id=a, received_at=t, alert=json.loads(body))
                for a, t, body in rows
            ],
            total=total,
        )

    @app.get("/api/v1/stats", tags=["alerts"])
    def stats(
        _who: Admin,
        minutes: Annotated[float, Query(gt=0, le=1440)] = 10,
        bucket_s: Annotated[float, Query(ge=1, le=3600)] = 10,
    ) -> Stats:
        """Totals and the alert rate per bucket over the last minutes (admin, dashboard)."""
        now = svc.clock().timestamp()
        since = (now - minutes * 60) // bucket_s * bucket_s
        rate = svc.store.alert_rate(since=since, bucket_s=bucket_s)
        return Stats(
            now=now,
            alerts_total=svc.store.alert_count(),
            agents=len(svc.store.list_agents()),
            decisions_active=svc.ledger.count_active(svc.clock()),
            bucket_s=bucket_s,
            rate=[RatePoint(t=t, count=n) for t, n in rate],
        )

    # -- decisions ------------------------------------------------------------------------------

    @app.post("/api/v1/decisions", tags=["decisions"])
    def report_decisions(body: DecisionsIn, who: Caller) -> DecisionsResponse:
        """Share decisions (an agent's local ones, or the administrator's) with every agent."""
        too_many(len(body.decisions), "decisions")
        origin = "admin" if who.admin else "agent"
        out = svc.add_decisions(body.decisions, origin=origin, agent_id=who.agent_id)
        return DecisionsResponse(
            accepted=out.accepted,
            refused=out.refused,
            capped=out.capped,
            duplicates=out.duplicates,
        )

    @app.post("/api/v1/feedback", tags=["decisions"])
    def feedback(body: FeedbackIn, _who: Caller) -> FeedbackResponse:
        """Store enforcer reports about known decisions (others are counted ``unknown``)."""
        too_many(len(body.feedback), "feedback reports")
        out = svc.record_feedback(body.feedback)
        return FeedbackResponse(
            accepted=out.accepted, duplicates=out.duplicates, unknown=out.unknown
        )

    @app.get("/api/v1/decisions/stream", tags=["decisions"])
    def decision_stream(
        _who: Caller, since: Annotated[int, Query(ge=0, description="cursor of the last pull")] = 0
    ) -> StreamResponse:
        """The shared blocklist: decisions new and revoked after cursor ``since``."""
        new, deleted, cursor = svc.stream(since)
        return StreamResponse(new=new, deleted=deleted, cursor=cursor)

    @app.get("/api/v1/decisions", tags=["decisions"])
    def active_decisions(_who: Admin) -> DecisionList:
        """Decisions in force (admin)."""
        return DecisionList(decisions=svc.active())

    @app.get("/api/v1/decisions/{uid}/explain", tags=["decisions"])
    def explain(uid: str, _who: Admin) -> dict[str, Any]:
        """Everything about one decision: what, why, feedback, revocation, TTL left (admin)."""
        info = svc.explain(uid)
        if info is None:
            raise HTTPException(404, f"unknown decision '{uid}'")
        return info

    @app.delete("/api/v1/decisions/{uid}", tags=["decisions"])
    def revoke(
        uid: str, _who: Admin, reason: Annotated[str, Query(max_length=500)] = ""
    ) -> RevokeResponse:
        """Revoke a decision (admin); agents and bouncers drop it on their next pull."""
        decision = svc.revoke(uid, by="admin", reason=reason)
        if decision is None:
            raise HTTPException(404, f"unknown decision '{uid}'")
        return RevokeResponse(revoked=decision)

    # -- CrowdSec Local API (bouncer side) ------------------------------------------------------

    @app.get("/v1/decisions/stream", tags=["crowdsec"])
    def crowdsec_stream(
        name: Bouncer,
        startup: bool = False,
        scopes: str | None = None,
        origins: str | None = None,
    ) -> CrowdsecStream:
        """CrowdSec stream: everything in force on ``startup``, then changes since last pull."""
        new, deleted = svc.bouncer_stream(name, startup=startup, scopes=scopes, origins=origins)
        return CrowdsecStream(new=new, deleted=deleted)

    @app.get("/v1/decisions", tags=["crowdsec"], response_model=None)
    def crowdsec_decisions(
        _name: Bouncer,
        ip: str | None = None,
        range_: Annotated[str | None, Query(alias="range")] = None,
        scope: str | None = None,
        value: str | None = None,
        type_: Annotated[str | None, Query(alias="type")] = None,
    ) -> JSONResponse:
        """CrowdSec query: ban decisions in force for ``ip`` / ``range`` (``null`` if none)."""
        try:
            items = (
                []
                if type_ not in (None, "ban")
                else svc.bouncer_query(ip=ip, range_=range_, scopes=scope, value=value)
            )
        except ValueError as exc:
            raise HTTPException(400, f"bad ip or range: {exc}") from None
        return JSONResponse(items or None)

    @app.head("/v1/decisions", tags=["crowdsec"])
    def crowdsec_check(_name: Bouncer) -> Response:
        """Lets a bouncer check its API key."""
        return Response(status_code=200)

    # -- service --------------------------------------------------------------------------------

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """Liveness: the store answers."""
        svc.store.alert_count()
        return {"status": "ok"}

    @app.get("/metrics", tags=["service"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics."""
        return Response(svc.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/dashboard", tags=["service"], response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        """The dashboard page (its data calls need the admin token)."""
        return HTMLResponse(PAGE)

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> RedirectResponse:
        return RedirectResponse(str(request.url_for("dashboard")))

    return app
