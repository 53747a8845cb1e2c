#!/usr/bin/env python3
"""protoc plugin ``protoc-gen-grpc_python`` backed by grpcio-tools.

grpcio-tools compiles its gRPC generator into its bundled protoc and ships no standalone
plugin executable, so buf cannot call it directly. This shim replays buf's
CodeGeneratorRequest through ``grpc_tools.protoc`` with the request's descriptors.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = pathlib.Path(tmp, "descriptors.binpb")
        descriptors.write_bytes(
            descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString()
        )
        out = pathlib.Path(tmp, "out")
        out.mkdir()
        parameter = f"{request.parameter}:" if request.parameter else ""
        rc = protoc.main(
            [
                "grpc_tools.protoc",
                f"--descriptor_set_in={descriptors}",
                f"--grpc_python_out={parameter}{out}",
                *request.file_to_generate,
            ]
        )
        if rc != 0:
            response.error = f"grpc_tools.protoc exited with {rc}"
        else:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    generated = response.file.add()
                    generated.name = path.relative_to(out).as_posix()
                    generated.content = path.read_text()
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
