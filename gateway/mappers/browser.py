"""Browser signed URLs and the list of browsable files: snake_case."""

from __future__ import annotations

from gateway.mappers.render import Casing, View

MINT_URLS = View(Casing.SNAKE)
FILES = View(Casing.SNAKE)
