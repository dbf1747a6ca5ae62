"""Disposition: the old case that falls due and who witnesses its destruction."""

from __future__ import annotations

OLD_CASE = "深民防罚〔1990〕7号"


WITNESSES = ["王五", "赵六"]
