"""SM3 implementations side by side: correct on GB/T 32905's examples, how fast, and whether
they can hash a stream (a deposit feeds SM3 a file chunk by chunk, so a one-shot call cannot
serve it).

    .venv/bin/python -m bench.deposit_sm3 [--mib 64] [--runs 5]

Each implementation that is importable here is measured; the others are listed as absent.
The product uses OpenSSL's through `hashlib.new("sm3")`: the table says whether any other
is both correct, incremental and faster in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXAMPLES = (  # GB/T 32905-2016, appendix A
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
)


@dataclass(frozen=True)
class Candidate:
    name: str  # as installed from PyPI
    module: str
    incremental: bool
    make: Callable[[Any], Callable[[bytes], str]]  # module -> one-shot hex digest of bytes


def _hashlib(_module: object) -> Callable[[bytes], str]:
    return lambda data: hashlib.new("sm3", data).hexdigest()


def _cryptography_like(hashes: Any) -> Callable[[bytes], str]:
    def digest(data: bytes) -> str:
        hasher = hashes.Hash(hashes.SM3())
        hasher.update(data)
        return str(hasher.finalize().hex())

    return digest


CANDIDATES = [
    Candidate("hashlib (the Python's OpenSSL)", "hashlib", True, _hashlib),
    Candidate(
        "cryptography (bundled OpenSSL)", "cryptography.hazmat.primitives.hashes", True, _cryptography_like
    ),
    Candidate("tongsuopy (Tongsuo)", "tongsuopy.crypto.hashes", True, _cryptography_like),
    Candidate("gmssl-pyx (GmSSL)", "gmssl_pyx", False, lambda m: lambda d: m.sm3_hash(d).hex()),
    Candidate("gmssl-fast (GmSSL)", "gmssl_fast", False, lambda m: lambda d: m.sm3(d).hex()),
    Candidate("smcryptopy (Rust)", "smcryptopy.sm3", False, lambda m: m.sm3_hash),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="bytes hashed per run, MiB (default 64)")
    parser.add_argument("--runs", type=int, default=5, help="runs per implementation; the best is kept")
    args = parser.parse_args(argv)
    data = bytes(range(256)) * (args.mib << 12)
    print(f"SM3 over {args.mib} MiB, best of {args.runs} runs, implementations alternating in each round")
    found: dict[str, Callable[[bytes], str]] = {}
    for candidate in CANDIDATES:
        try:
            found[candidate.name] = candidate.make(importlib.import_module(candidate.module))
        except (ImportError, AttributeError, ValueError):
            print(f"  {candidate.name}: not installed here")
    best = dict.fromkeys(found, float("inf"))
    for _round in range(args.runs):
        for name, digest in found.items():
            if best[name] > 2.0:
                continue  # far too slow to matter: one run says so
            start = time.perf_counter()
            digest(data)
            best[name] = min(best[name], time.perf_counter() - start)
    print("| implementation | GB/T 32905 examples | streams | MB/s (best) |")
    print("|---|---|---|---|")
    for candidate in CANDIDATES:
        if candidate.name not in found:
            continue
        digest = found[candidate.name]
        correct = all(digest(message) == expected for message, expected in EXAMPLES)
        rate = len(data) / best[candidate.name] / 1e6
        print(f"| {candidate.name} | {'correct' if correct else 'WRONG'} | "
              f"{'yes' if candidate.incremental else 'no: one call per message'} | {rate:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
