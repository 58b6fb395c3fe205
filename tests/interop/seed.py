#!/usr/bin/env python3
"""Write the seed messages of the interop suite into a directory (one `NN.eml` each, CRLF).

The tests compare what they fetch with these files byte for byte, so the content is fixed:
five small messages (one with 8-bit UTF-8 text, one with lines starting with dots) and one
large message of about 3 MB.
"""

from __future__ import annotations

import os
import sys

LARGE_LINES = 40_000  # 76 characters each: about 3 MB


def message(number: int, subject: str, body: bytes, extra_headers: str = "") -> bytes:
    head = (
        f"From: Seed Sender <sender@example.test>\r\n"
        f"To: seed@example.test\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Mon, 2 Mar 2026 10:{number:02d}:00 +0000\r\n"
        f"Message-ID: <seed-{number}@example.test>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"{extra_headers}"
    ).encode()
    return head + b"\r\n" + body


def messages() -> list[bytes]:
    result = []
    for number in range(1, 4):
        body = f"Seed message {number}.\r\nSecond line of message {number}.\r\n".encode()
        result.append(message(number, f"seed {number}", body,
                              "Content-Type: text/plain; charset=us-ascii\r\n"))
    result.append(message(
        4, "seed 4 8bit",
        "Grüße aus Köln, naïve café, 日本語のテキスト.\r\n".encode(),
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"))
    result.append(message(
        5, "seed 5 dots",
        b".leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n",
        "Content-Type: text/plain; charset=us-ascii\r\n"))
    line = (b"0123456789" * 8)[:74]
    large = b"".join(b"%06d" % index + line[6:] + b"\r\n" for index in range(LARGE_LINES))
    result.append(message(6, "seed 6 large", large,
                          "Content-Type: text/plain; charset=us-ascii\r\n"))
    return result


def main() -> None:
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    for index, data in enumerate(messages(), 1):
        with open(os.path.join(directory, f"{index:02d}.eml"), "wb") as file:
            file.write(data)


if __name__ == "__main__":
    main()
