"""The one HTTP front: everything about the protocol, over any
:class:`~asr_conformance.mock_server.engine.Engine`.

Routes: ``POST /models/{model_id}`` and the router form ``POST /hf-inference/models/{model_id}`` (ids
contain ``/``), served by :class:`~asr_conformance.mock_server.pipeline.ModelRoute`; ``GET /healthz``;
the controls under ``/__mock`` (this module). Unknown routes get a JSON 404, other methods on the model
routes a JSON 405. Request intake lives in :mod:`~asr_conformance.mock_server.intake`, the answers
outside the success path in :mod:`~asr_conformance.mock_server.replies`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from asr_conformance.mock_server.config import MockConfig
from asr_conformance.mock_server.engine import Engine
from asr_conformance.mock_server.faults import FaultSpecError
from asr_conformance.mock_server.intake import authorized, unauthorized
from asr_conformance.mock_server.journal import Journal, ResultCache
from asr_conformance.mock_server.pipeline import ModelRoute
from asr_conformance.mock_server.replies import json_response, route_error
from asr_conformance.mock_server.request import load_json
from asr_conformance.mock_server.responses import JSON_TYPE
from asr_conformance.mock_server.state import FrontState
from asr_conformance.mock_server.validation import RequestValidator

STATE_KEY: web.AppKey[FrontState] = web.AppKey("asr_front_state")


def create_app(engine: Engine, config: MockConfig) -> web.Application:
    """The aiohttp application serving ``engine`` with ``config``."""
    # the violation needs bodies above the limit to reach the handler
    client_max = config.max_body_bytes * 16 if config.violates("ignore-body-limit") else config.max_body_bytes
    app = web.Application(client_max_size=client_max + 1)
    state = FrontState(
        config=config,
        engine=engine,
        validator=RequestValidator(config.spec_view),
        journal=Journal(config.journal_size, token=config.token),
        cache=ResultCache(config.cache_size),
    )
    if config.scenario:
        state.set_scenario(config.scenario)
    app[STATE_KEY] = state
    model = ModelRoute(state)
    controls = _Controls(state)
    app.router.add_route("*", "/models/{model_id:.+}", model.handle)
    app.router.add_route("*", "/hf-inference/models/{model_id:.+}", model.handle)
    app.router.add_get("/healthz", controls.healthz)
    if config.controls:  # an engine server (the reference) is not a mock: no controls at all
        app.router.add_get("/__mock/requests", controls.get_requests)
        app.router.add_delete("/__mock/requests", controls.delete_requests)
        app.router.add_post("/__mock/scenario", controls.post_scenario)
        app.router.add_post("/__mock/reset", controls.post_reset)
    app.router.add_route("*", "/{tail:.*}", controls.not_found)

    async def start_engine(_: web.Application) -> None:
        await engine.start()

    async def close_engine(_: web.Application) -> None:
        await engine.close()

    app.on_startup.append(start_engine)
    app.on_cleanup.append(close_engine)
    return app


def front_state(app: web.Application) -> FrontState:
    """The state of an app made by :func:`create_app`."""
    return app[STATE_KEY]


#: the most a scenario body may weigh (a scenario is a few lines of JSON)
MAX_SCENARIO_BYTES = 64 * 1024


class _Controls:
    """``/healthz``, the ``/__mock`` controls and the catch-all 404.

    With a token configured the controls require it like the model route does (the real 401 otherwise):
    reading the journal, installing a scenario or resetting is steering the server.
    """

    def __init__(self, state: FrontState) -> None:
        self.state = state

    def _refused(self, request: web.Request) -> web.Response | None:
        if authorized(request, self.state.config):
            return None
        reply = unauthorized()
        return json_response(reply.status, reply.body, reply.headers)

    async def healthz(self, request: web.Request) -> web.Response:
        engine = self.state.engine
        ready = engine.is_ready()
        body: dict[str, Any] = {"status": "ok", "ready": ready, "model_id": self.state.config.model_id}
        if not ready:
            body["estimated_time"] = engine.estimated_load_seconds()
        return json_response(200, body)

    async def get_requests(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        return web.Response(status=200, body=self.state.journal.as_json(), content_type=JSON_TYPE)

    async def delete_requests(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        return json_response(200, {"deleted": self.state.journal.clear()})

    async def post_scenario(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        try:
            async with asyncio.timeout(self.state.config.read_timeout):
                raw = await request.read()
            if len(raw) > MAX_SCENARIO_BYTES:
                return json_response(413, {"error": f"scenario: over {MAX_SCENARIO_BYTES} bytes"})
            data = load_json(raw)
            self.state.set_scenario(data)
        except TimeoutError:
            return json_response(408, {"error": "scenario: body not received in time"})
        except (ValueError, UnicodeDecodeError, FaultSpecError) as exc:
            return json_response(400, {"error": f"scenario: {exc}"})
        return json_response(200, {"scenario": data or None})

    async def post_reset(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        self.state.reset()
        return json_response(200, {"reset": True})

    async def not_found(self, request: web.Request) -> web.Response:
        return route_error(404, "Not Found")


__all__ = ["STATE_KEY", "FrontState", "create_app", "front_state"]
