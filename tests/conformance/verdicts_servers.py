"""Small real servers for the verdict tests: aiohttp apps on a free port in a background thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aiohttp import web

Handler = Callable[[web.Request], object]


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """Serve ``handler`` for every method and path; yields the model URL."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def start() -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", handler)  # type: ignore[arg-type]
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["runner"] = runner
        box["port"] = runner.addresses[0][1]
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.daemon = True
    thread.start()
    started.wait(10)
    try:
        yield f"http://127.0.0.1:{box['port']}/models/test-model"
    finally:
        asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(10)  # type: ignore[attr-defined]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


async def html_501(request: web.Request) -> web.Response:
    """What ``python -m http.server`` answers to a POST."""
    await request.read()
    page = "<!DOCTYPE HTML>\n<html><head><title>Error response</title></head><body>501</body></html>"
    return web.Response(status=501, text=page, content_type="text/html")


async def fastapi_422(request: web.Request) -> web.Response:
    """What a FastAPI app with another schema answers to everything."""
    await request.read()
    detail = [{"loc": ["body", "file"], "msg": "field required", "type": "value_error.missing"}]
    return web.json_response({"detail": detail}, status=422)


async def refuses_json(request: web.Request) -> web.Response:
    """Transcribes raw audio, refuses every JSON body with this API's error shape."""
    body = await request.read()
    if body[:1] == b"{" or "json" in (request.content_type or ""):
        return web.json_response({"error": "JSON bodies are not supported"}, status=400)
    return web.json_response({"text": "hello"})
