"""A TCP proxy that hands each new connection to the next of several servers in turn, as the
load balancer in front of a deployment's server processes does. The benchmarks put it in front of
their Daphne processes where one address must reach them all (the callback URLs a gateway gets).

    python -m bench.round_robin --port 8100 --to 127.0.0.1:8001 --to 127.0.0.1:8002

Loopback only; it runs until it is stopped and prints nothing but errors.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys

BUFFER_BYTES = 64 * 1024


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(BUFFER_BYTES):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        if not writer.is_closing():
            writer.close()


async def serve(port: int, backends: list[tuple[str, int]]) -> None:
    turn = itertools.cycle(backends)

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        host, backend_port = next(turn)
        try:
            server_reader, server_writer = await asyncio.open_connection(host, backend_port)
        except OSError as error:
            print(f"round_robin: {host}:{backend_port}: {error}", file=sys.stderr, flush=True)
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="port to listen on, on 127.0.0.1")
    parser.add_argument("--to", action="append", required=True, help="host:port of a server (repeat)")
    args = parser.parse_args()
    backends = [(value.rsplit(":", 1)[0], int(value.rsplit(":", 1)[1])) for value in args.to]
    if any(host not in ("127.0.0.1", "localhost") for host, _ in backends):
        sys.exit("round_robin: loopback servers only")
    asyncio.run(serve(args.port, backends))


if __name__ == "__main__":
    main()
