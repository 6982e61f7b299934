#!/usr/bin/env python3
"""SMTP sink for the end-to-end tests: a real SMTP server (aiosmtpd) on loopback that accepts
every message and writes it to a folder as <n>.eml (raw) and <n>.json (envelope, decoded
headers and both body parts), so tests written in any language can read mail back without an
e-mail parser of their own. Files appear atomically (written, then renamed). With --count-only it
keeps nothing and only counts, so a benchmark measures the sender rather than this script. Each
--refuse ADDRESS is refused at RCPT TO with a permanent 550, as a relay refuses an unknown
mailbox; each --defer ADDRESS gets a temporary 451 the first --defer-times times it is tried, as a
greylisting relay answers; --delay-ms makes every final reply to a message that long in coming,
as a slow relay does (the message is kept all the same). A test stalls the whole server (accepting TCP, replying nothing) by
stopping the process with SIGSTOP and resumes it with SIGCONT."""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import signal

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 Message accepted"


class FolderHandler:
    def __init__(self, folder, refused, deferred, defer_times, delay_ms):
        self.folder = folder
        self.delay = delay_ms / 1000.0
        self.refused = {address.lower() for address in refused}
        self.deferred = {address.lower(): defer_times for address in deferred}
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 mailbox unavailable"
        left = self.deferred.get(address.lower(), 0)
        if left > 0:
            self.deferred[address.lower()] = left - 1
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _write(self, name, data):
        path = os.path.join(self.folder, name)
        with open(path + ".tmp", "wb") as out:
            out.write(data)
        os.replace(path + ".tmp", path)

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "list_unsubscribe": str(message.get("List-Unsubscribe", "")),
            "list_unsubscribe_post": str(message.get("List-Unsubscribe-Post", "")),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        n = next(self.counter)
        stem = f"{os.getpid()}-{n:06d}"
        self._write(stem + ".eml", raw)
        self._write(stem + ".json", json.dumps(record, ensure_ascii=False).encode("utf-8"))
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir")
    parser.add_argument("--count-only", action="store_true")
    parser.add_argument("--refuse", action="append", default=[], metavar="ADDRESS")
    parser.add_argument("--defer", action="append", default=[], metavar="ADDRESS")
    parser.add_argument("--defer-times", type=int, default=2)
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    if args.count_only:
        handler = CountingHandler()
    else:
        os.makedirs(args.dir, exist_ok=True)
        handler = FolderHandler(args.dir, args.refuse, args.defer, args.defer_times, args.delay_ms)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
