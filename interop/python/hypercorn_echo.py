# An ASGI WebSocket echo for Hypercorn (RFC 6455 over HTTP/1.1, RFC 8441 over HTTP/2):
# text back as text, bytes as bytes; the close the client sends is answered by Hypercorn.
# Run: /usr/bin/python3 -m hypercorn --bind 127.0.0.1:PORT [--certfile C --keyfile K] hypercorn_echo:app


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await receive()
        body = b"hypercorn echo: open a WebSocket\n"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["type"] != "websocket":
        return
    msg = await receive()
    if msg["type"] != "websocket.connect":
        return
    protos = scope.get("subprotocols") or []
    accept = {"type": "websocket.accept"}
    if protos:
        accept["subprotocol"] = protos[0]
    await send(accept)
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": msg["text"]})
        elif msg.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": msg["bytes"]})
