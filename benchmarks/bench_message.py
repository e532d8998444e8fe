"""Message-layer throughput: encode_dm/decode_dm next to the bare libsodium calls they rest on.

Run: python benchmarks/bench_message.py [--seconds 1.0]
"encode" = build_text_content + encode_dm (random ephemeral key); "decode" = decode_dm.
"seal+sign" / "open+verify" = nacl.bindings calls alone on a plaintext of the same padded size.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nacl.bindings as sodium

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from sessioncli.protocol import message as m
from sessioncli.protocol.ids import Identity

TS = 1_700_000_000_000
SENDER = Identity.from_seed(bytes.fromhex("0123456789abcdef0123456789abcdef"))
RECIPIENT = Identity.from_seed(bytes.fromhex("00112233445566778899aabbccddeeff"))


def rate(fn: Callable[[], object], seconds: float, repeats: int = 3) -> float:
    """Best-of-`repeats` operations per second, each run lasting about `seconds`."""
    fn()
    n = 1
    while True:  # calibrate a batch that lasts ~1/10 of the run
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 > seconds / 10:
            break
        n *= 2
    best = 0.0
    for _ in range(repeats):
        count, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds:
            for _ in range(n):
                fn()
            count += n
        best = max(best, count / elapsed)
    return best


def bench(body_len: int, seconds: float) -> dict[str, float]:
    body = "a" * body_len
    content = m.build_text_content(body, TS, display_name="bench")
    data = m.encode_dm(SENDER, RECIPIENT.session_id, content, TS)
    padded = m.pad(content)
    y = RECIPIENT.x25519_public
    ed_pk, ed_sk = SENDER.ed25519_public, SENDER.ed25519_secret
    sig = sodium.crypto_sign(padded + ed_pk + y, ed_sk)[:64]
    inner = padded + ed_pk + sig
    sealed = sodium.crypto_box_seal(inner, y)
    x_pk, x_sk = RECIPIENT.x25519_public, RECIPIENT.x25519_secret

    def encode() -> str:
        return m.encode_dm(
            SENDER, RECIPIENT.session_id, m.build_text_content(body, TS, display_name="bench"), TS
        )

    def decode() -> m.DecodedMessage:
        return m.decode_dm(RECIPIENT, data)

    def seal_sign() -> bytes:
        s = sodium.crypto_sign(padded + ed_pk + y, ed_sk)[:64]
        return sodium.crypto_box_seal(padded + ed_pk + s, y)

    def open_verify() -> bytes:
        pt = sodium.crypto_box_seal_open(sealed, x_pk, x_sk)
        msg = pt[:-96]
        return sodium.crypto_sign_open(pt[-64:] + msg + pt[-96:-64] + x_pk, pt[-96:-64])

    assert decode().body == body and open_verify()
    return {
        "encode": rate(encode, seconds),
        "seal+sign": rate(seal_sign, seconds),
        "decode": rate(decode, seconds),
        "open+verify": rate(open_verify, seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each timed run")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cpus (single-threaded), libsodium via PyNaCl"
    )
    print(
        f"{'body':>8} | {'encode/s':>9} | {'seal+sign/s':>11} | {'ratio':>5} | "
        f"{'decode/s':>9} | {'open+verify/s':>13} | {'ratio':>5}"
    )
    print("-" * 80)
    for size, label in ((100, "100 B"), (10_000, "10 KB")):
        r = bench(size, args.seconds)
        print(
            f"{label:>8} | {r['encode']:>9,.0f} | {r['seal+sign']:>11,.0f} | "
            f"{r['seal+sign'] / r['encode']:>5.2f} | {r['decode']:>9,.0f} | "
            f"{r['open+verify']:>13,.0f} | {r['open+verify'] / r['decode']:>5.2f}"
        )
        sys.stdout.flush()
    print("ratio = primitive rate / message-layer rate (1.00 = no overhead)")


if __name__ == "__main__":
    main()
