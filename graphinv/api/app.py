"""The ASGI application: GraphQL (and GraphiQL) at /graphql, /healthz, /readyz, GraphiQL's assets."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from graphinv.api.context import RequestContext
from graphinv.api.graphiql import ASSETS_URL, assets_dir, graphiql_page
from graphinv.api.http_guard import PROBE_POOL, HttpGuard, on_worker_loop
from graphinv.api.loaders import Loaders
from graphinv.api.request_graph import RequestGraph
from graphinv.api.schema import build_schema
from graphinv.api.settings import ApiSettings
from graphinv.db import Graph, GraphUnavailable
from graphinv.history.settings import HistorySettings
from graphinv.orphan_settings import OrphansSettings

log = logging.getLogger("graphinv.api")
READY_TIMEOUT_SECONDS = 5.0


class GraphQLEndpoint(GraphQL[RequestContext, None]):
    def __init__(self, schema: BaseSchema, graph: Graph, settings: ApiSettings, orphans: OrphansSettings,
                 batch_loads: bool, history: HistorySettings, compiled: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.graph = graph
        self.settings = settings
        self.orphans = orphans
        self.history = history
        self.batch_loads = batch_loads
        self.compiled = compiled

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        db = RequestGraph(self.graph, self.settings.timeout_seconds)
        return RequestContext(db=db, loaders=Loaders(db, batch=self.batch_loads), settings=self.settings,
                              orphan_staleness=self.orphans.max_staleness, prices=self.orphans.price_table(),
                              history=self.history, compiled=self.compiled)

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        # Parsing, validation and resolving on the GraphQL worker loop: the server's loop stays free
        # for /healthz, /readyz and the HTTP side of every other request.
        return await on_worker_loop(super().execute_operation(*args, **kwargs))

    async def render_graphql_ide(self, request: Any) -> Response:
        return HTMLResponse(graphiql_page(request.url.path))


class BearerAuth:
    """Requires `Authorization: Bearer <token>` on every request that can reach data.

    Open without a token: the health probes, GraphiQL's static files and the GraphiQL page itself
    (a GET of /graphql without a query); the page then sends the token the user enters.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _open(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path in ("/healthz", "/readyz", "/favicon.ico") or path.startswith(ASSETS_URL + "/"):
            return True
        if scope["method"] == "GET" and path == "/graphql":
            return "query" not in parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return False

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not self._authorized(scope):  # subscriptions: token on the upgrade
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4401})  # refused before the handshake: HTTP 403
            return
        if scope["type"] != "http" or self._open(scope) or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"errors": [{"message": "missing or wrong bearer token"}]}).encode()
        response = Response(body, status_code=401, media_type="application/json",
                            headers={"WWW-Authenticate": 'Bearer realm="graphinv"'})
        await response(scope, receive, send)


def create_app(graph: Graph, settings: ApiSettings | None = None, *,
               orphans: OrphansSettings | None = None, history: HistorySettings | None = None,
               batch_loads: bool | None = None) -> ASGIApp:
    """The whole HTTP surface. `history`: the `history:` section (how the `changes` subscription polls).

    How queries are resolved: by default (`batch_loads=None`) each root field that one Cypher query
    can answer is compiled to one (graphinv/api/compiled.py), the rest go through the batched
    DataLoaders. `batch_loads=True` is the DataLoader path alone (one round trip per level), and
    `batch_loads=False` the naive one-query-per-parent path (benchmarks and tests only)."""
    settings = settings or ApiSettings()
    endpoint = GraphQLEndpoint(build_schema(settings), graph, settings, orphans or OrphansSettings(),
                               batch_loads is not False, history or HistorySettings(), compiled=batch_loads is None)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            check = asyncio.get_running_loop().run_in_executor(PROBE_POOL, graph.verify)  # not the shared pool
            version = await asyncio.wait_for(check, READY_TIMEOUT_SECONDS)
        except (GraphUnavailable, TimeoutError) as exc:
            log.warning("not ready: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "neo4j": "not reachable"}, status_code=503)
        return JSONResponse({"status": "ready", "neo4j": version})

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask; an empty answer keeps their console clean

    routes: list[Any] = [
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/graphql", endpoint, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", endpoint),  # subscriptions (graphql-transport-ws)
    ]
    folder = assets_dir()
    if folder is not None:
        routes.append(Mount(ASSETS_URL, app=StaticFiles(directory=folder), name="graphiql-assets"))
    app: ASGIApp = Starlette(routes=routes)
    token = settings.bearer_token()
    if token:
        app = BearerAuth(app, token)
    return HttpGuard(app, settings.timeout_seconds)  # outermost: probes, bodies, the request's time limit
