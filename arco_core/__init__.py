"""Arco domain core: pure orchestration and catalog logic over object storage.

Nothing in this package imports grpc; services translate between the wire and these types.
"""
