#!/usr/bin/env python3
"""Copy google/api and google/rpc protos from the installed googleapis-common-protos.

buf needs them inside the single `proto/` module to resolve `google.api.http`; they are
git-ignored and excluded from lint, breaking checks and generation, so the repository
holds only code written here. Copies are byte-identical to the installed package.
"""

from __future__ import annotations

import pathlib
import shutil
import sys

import google.api

FILES = (
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/api/httpbody.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
)


def main() -> int:
    site_root = pathlib.Path(next(iter(google.api.__path__))).parent.parent
    target_root = pathlib.Path(__file__).resolve().parent.parent / "proto"
    for relative in FILES:
        source = site_root / relative
        if not source.is_file():
            print(f"missing {source}: is googleapis-common-protos installed?", file=sys.stderr)
            return 1
        target = target_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
