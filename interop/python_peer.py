#!/usr/bin/env python3
"""Interop peer for ferrosocket, on the Python `websockets` package.

Driven by crates/ferrosocket/tests/interop.rs (run it with `cargo xtask interop`,
which installs websockets into target/interop/python and sets PYTHONPATH).

  python_peer.py client URL --compression deflate|none --expect deflate|none
      Connects to an echo server, checks whether permessage-deflate was agreed
      (the response's Sec-WebSocket-Extensions), sends every case and checks each
      echo is byte-identical. Prints `RESULT ok ...` and exits 0, or exits 1.

  python_peer.py server --compression deflate|none
      An echo server on 127.0.0.1 (port chosen by the OS, printed as `PORT n`) for
      one connection; when it ends, prints `CONN request_ext=... response_ext=...
      messages=n` (JSON-quoted header values) and exits.
"""

import argparse
import asyncio
import json
import random
import sys
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 4 << 20]
# Characters of 1 to 4 bytes in UTF-8, for text that is valid but not only ASCII.
TEXT_POOL = "abcdefghijklmnopqrstuvwxyz0123456789 éßλж€✓中😀🦀"


def random_text(rng, size):
    """Random valid UTF-8 of exactly `size` bytes."""
    out, left = [], size
    while left > 0:
        ch = rng.choice(TEXT_POOL)
        n = len(ch.encode())
        if n > left:
            ch, n = "x", 1
        out.append(ch)
        left -= n
    return "".join(out)


def compressible_text(size):
    phrase = "the quick brown fox jumps over the lazy dog; "
    return (phrase * (size // len(phrase) + 1))[:size]


def cases():
    """(name, payload): str for text, bytes for binary."""
    rng = random.Random(7692)
    for size in SIZES:
        yield f"text/random/{size}", random_text(rng, size)
        yield f"text/compressible/{size}", compressible_text(size)
        yield f"binary/random/{size}", rng.randbytes(size)
        yield f"binary/compressible/{size}", bytes(i % 7 for i in range(size))


def extensions_header(headers):
    return headers.get("Sec-WebSocket-Extensions")


def check_agreed(what, header, expect):
    agreed = header is not None and header.startswith("permessage-deflate")
    if agreed != (expect == "deflate"):
        sys.exit(f"FAIL {what}: Sec-WebSocket-Extensions {header!r}, expected {expect}")


async def run_client(url, compression, expect):
    compression = None if compression == "none" else "deflate"
    started = time.monotonic()
    async with connect(url, compression=compression, max_size=None) as ws:
        request_ext = extensions_header(ws.request.headers)
        response_ext = extensions_header(ws.response.headers)
        check_agreed("response", response_ext, expect)
        count = total = 0
        for name, payload in cases():
            await ws.send(payload)
            echo = await asyncio.wait_for(ws.recv(), timeout=60)
            if type(echo) is not type(payload) or echo != payload:
                sys.exit(f"FAIL {name}: echo differs ({type(echo).__name__}, {len(echo)})")
            count += 1
            total += len(payload.encode() if isinstance(payload, str) else payload)
    print(
        f"RESULT ok messages={count} bytes={total} "
        f"request_ext={json.dumps(request_ext)} response_ext={json.dumps(response_ext)} "
        f"seconds={time.monotonic() - started:.2f}",
        flush=True,
    )


async def run_server(compression):
    compression = None if compression == "none" else "deflate"
    done = asyncio.get_running_loop().create_future()

    async def echo(ws):
        count = 0
        try:
            async for message in ws:
                await ws.send(message)
                count += 1
        finally:
            if not done.done():
                done.set_result((ws, count))

    async with serve(echo, "127.0.0.1", 0, compression=compression, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        ws, count = await asyncio.wait_for(done, timeout=120)
    print(
        f"CONN request_ext={json.dumps(extensions_header(ws.request.headers))} "
        f"response_ext={json.dumps(extensions_header(ws.response.headers))} "
        f"messages={count} close_code={ws.close_code}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    client = sub.add_parser("client")
    client.add_argument("url")
    client.add_argument("--compression", choices=["deflate", "none"], required=True)
    client.add_argument("--expect", choices=["deflate", "none"], required=True)
    server = sub.add_parser("server")
    server.add_argument("--compression", choices=["deflate", "none"], required=True)
    args = parser.parse_args()
    if args.role == "client":
        asyncio.run(run_client(args.url, args.compression, args.expect))
    else:
        asyncio.run(run_server(args.compression))


if __name__ == "__main__":
    main()
