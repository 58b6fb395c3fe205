#!/usr/bin/env python3
"""An SMTP sink for the interop suite (asyncio, Python standard library only).

Dovecot's submission service relays every accepted message here. Each message is stored as
`NNNNNN.eml` (the message bytes exactly as transmitted, CRLF line ends kept, dot-stuffing
removed) next to `NNNNNN.json` (envelope: EHLO name, MAIL FROM and its parameters, RCPT TO).
The `.json` file is written last, so a test that sees it can read both. The sink answers 250
to the end of DATA only after both files are on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys

MAX_LINE = 4096
MAX_MESSAGE = 64 * 1024 * 1024


class Sink:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.counter = itertools.count(1)

    def store(self, envelope: dict, data: bytes) -> str:
        number = next(self.counter)
        base = os.path.join(self.directory, f"{number:06d}")
        with open(base + ".eml", "wb") as file:
            file.write(data)
        envelope = dict(envelope, size=len(data))
        with open(base + ".json.tmp", "w", encoding="utf-8") as file:
            json.dump(envelope, file)
        os.replace(base + ".json.tmp", base + ".json")
        return os.path.basename(base)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        envelope: dict = {"ehlo": None, "mail_from": None, "mail_params": [], "rcpt_to": []}
        try:
            await reply("220 sink.test ESMTP interop sink")
            while True:
                line = await reader.readline()
                if not line:
                    return
                if len(line) > MAX_LINE:
                    await reply("500 5.5.2 line too long")
                    continue
                text = line.rstrip(b"\r\n").decode("utf-8", "replace")
                verb, _, rest = text.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    envelope = {"ehlo": rest, "mail_from": None, "mail_params": [], "rcpt_to": []}
                    writer.write(
                        b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                        b"250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 67108864\r\n"
                    )
                    await writer.drain()
                elif verb == "HELO":
                    envelope = {"ehlo": rest, "mail_from": None, "mail_params": [], "rcpt_to": []}
                    await reply("250 sink.test")
                elif verb == "MAIL" and rest.upper().startswith("FROM:"):
                    address, _, params = rest[5:].strip().partition(" ")
                    envelope["mail_from"] = address.strip("<>")
                    envelope["mail_params"] = params.split()
                    envelope["rcpt_to"] = []
                    await reply("250 2.1.0 OK")
                elif verb == "RCPT" and rest.upper().startswith("TO:"):
                    if envelope["mail_from"] is None:
                        await reply("503 5.5.1 MAIL first")
                        continue
                    address = rest[3:].strip().partition(" ")[0]
                    envelope["rcpt_to"].append(address.strip("<>"))
                    await reply("250 2.1.5 OK")
                elif verb == "DATA":
                    if not envelope["rcpt_to"]:
                        await reply("503 5.5.1 RCPT first")
                        continue
                    await reply("354 go ahead")
                    data = await self.read_data(reader)
                    if data is None:
                        await reply("552 5.3.4 message too large")
                    else:
                        name = self.store(envelope, data)
                        await reply(f"250 2.0.0 OK stored as {name}")
                    envelope = dict(envelope, mail_from=None, mail_params=[], rcpt_to=[])
                elif verb == "RSET":
                    envelope = dict(envelope, mail_from=None, mail_params=[], rcpt_to=[])
                    await reply("250 2.0.0 OK")
                elif verb == "NOOP":
                    await reply("250 2.0.0 OK")
                elif verb == "QUIT":
                    await reply("221 2.0.0 bye")
                    return
                else:
                    await reply("502 5.5.2 command not implemented")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            writer.close()

    @staticmethod
    async def read_data(reader: asyncio.StreamReader) -> bytes | None:
        """Read a DATA body up to the lone dot; undo dot-stuffing; keep bytes as they came."""
        chunks = []
        size = 0
        too_large = False
        while True:
            line = await reader.readuntil(b"\n")
            if line in (b".\r\n", b".\n"):
                return None if too_large else b"".join(chunks)
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size > MAX_MESSAGE:
                too_large = True
                chunks.clear()
            if not too_large:
                chunks.append(line)


async def serve(host: str, port: int, directory: str, port_file: str | None) -> None:
    sink = Sink(directory)
    server = await asyncio.start_server(sink.session, host, port, limit=1 << 20)
    bound = server.sockets[0].getsockname()[1]
    if port_file:
        with open(port_file + ".tmp", "w", encoding="utf-8") as file:
            file.write(f"{bound}\n")
        os.replace(port_file + ".tmp", port_file)
    sys.stderr.write(f"SMTP sink listening on {host}:{bound}, storing into {directory}\n")
    sys.stderr.flush()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--dir", required=True, help="directory to store messages in")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    try:
        asyncio.run(serve(args.host, args.port, args.dir, args.port_file))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
