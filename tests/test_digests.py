"""The digests a deposit records: SM3 as GB/T 32905 defines it, however the bytes arrive."""

from __future__ import annotations

import hashlib

import pytest

from archive.digests import digest_stream

# GB/T 32905-2016, appendix A: the two examples of the standard.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD_16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


@pytest.mark.parametrize("overlap", [False, True], ids=["inline", "helper-thread"])
@pytest.mark.parametrize(
    ("message", "expected"), [(b"abc", SM3_ABC), (b"abcd" * 16, SM3_ABCD_16)], ids=["abc", "abcd*16"]
)
def test_sm3_gives_the_standards_examples_whole_and_in_pieces(
    message: bytes, expected: str, overlap: bool
) -> None:
    pieces = [memoryview(message)[i : i + 7] for i in range(0, len(message), 7)]  # across block edges
    for chunks in ([message], pieces):
        got = digest_stream(chunks, algorithms=("sha256", "sm3"), overlap=overlap)
        assert got.digests == {"sha256": hashlib.sha256(message).hexdigest(), "sm3": expected}
        assert got.size == len(message)
