#!/usr/bin/python3
"""python-websockets (Debian's python3-websockets) as an interop peer for omniws.

  echo.py server [--no-context]      echo server on 127.0.0.1, random port; prints
                                     {"port": N} on one line, runs until stdin closes
  echo.py client URL [--no-context]  sends a fixed set of messages, checks the
                                     echoes, prints one JSON line with the result

Both sides use permessage-deflate, which python-websockets enables by default
(server_max_window_bits=12, client_max_window_bits=12, memLevel 5 on its server).
With --no-context both directions are asked to reset their context per message.
Loopback only; every wait is bounded.
"""

import asyncio
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

MESSAGES = [
    "Hello",
    "Hello",
    "h\u00e9llo \u2713 " * 500,
    bytes(range(256)) * 400,
    b"",
    "",
    "x" * 5000,
    bytes(200_000),
]


def log(obj):
    print(json.dumps(obj), flush=True)


async def serve(no_context):
    kwargs = {"max_size": 64 * 1024 * 1024}
    if no_context:
        kwargs["compression"] = None
        kwargs["extensions"] = [
            ServerPerMessageDeflateFactory(
                server_no_context_takeover=True,
                client_no_context_takeover=True,
            )
        ]

    async def echo(ws, path=None):
        try:
            async for msg in ws:
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass

    async with websockets.serve(echo, "127.0.0.1", 0, **kwargs) as server:
        port = server.sockets[0].getsockname()[1]
        log({"port": port, "version": websockets.__version__})
        loop = asyncio.get_running_loop()
        # run until our parent closes stdin
        await loop.run_in_executor(None, sys.stdin.read)


async def client(url, no_context):
    kwargs = {"max_size": 64 * 1024 * 1024, "open_timeout": 10, "close_timeout": 5}
    if no_context:
        kwargs["compression"] = None
        kwargs["extensions"] = [
            ClientPerMessageDeflateFactory(
                server_no_context_takeover=True,
                client_no_context_takeover=True,
            )
        ]
    result = {"ok": False, "version": websockets.__version__}
    async with websockets.connect(url, **kwargs) as ws:
        result["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions")
        for i, msg in enumerate(MESSAGES):
            await ws.send(msg)
            back = await asyncio.wait_for(ws.recv(), 10)
            if back != msg:
                result["error"] = f"message {i}: echo differs"
                log(result)
                return 1
        result["ok"] = True
        result["count"] = len(MESSAGES)
    result["close_code"] = ws.close_code
    log(result)
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    no_context = "--no-context" in sys.argv
    if sys.argv[1] == "server":
        asyncio.run(serve(no_context))
        return 0
    if sys.argv[1] == "client" and len(sys.argv) >= 3:
        return asyncio.run(asyncio.wait_for(client(sys.argv[2], no_context), 30))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
