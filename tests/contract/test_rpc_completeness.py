"""Every RPC in the contracts has a servicer method; every public RPC has its /api/v1 route."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from arco_sdk.worker.grpc_servicer import WorkerServicer
from services.api import servicers as api
from services.compactor.servicer import CompactorServicer
from services.dispatcher.servicer import DispatcherServicer
from services.sweeper.servicer import SweeperServicer
from tests.conftest import REPO_ROOT

SERVICERS: dict[str, type] = {
    "arco.orchestration.v1.OrchestrationService": api.OrchestrationServicer,
    "arco.orchestration.v1.TaskCallbackService": api.TaskCallbackServicer,
    "arco.catalog.v1.CatalogService": api.CatalogServicer,
    "arco.query.v1.QueryService": api.QueryServicer,
    "arco.browser.v1.BrowserService": api.BrowserServicer,
    "arco.compactor.v1.CompactorService": CompactorServicer,
    "arco.dispatch.v1.DispatcherService": DispatcherServicer,
    "arco.sweeper.v1.SweeperService": SweeperServicer,
    "arco.worker.v1.WorkerService": WorkerServicer,
}
PUBLIC = {
    "arco.orchestration.v1.OrchestrationService",
    "arco.orchestration.v1.TaskCallbackService",
    "arco.catalog.v1.CatalogService",
    "arco.query.v1.QueryService",
    "arco.browser.v1.BrowserService",
}


def _services() -> Iterator[ServiceDescriptor]:
    # gen/arco is a namespace package (no __init__.py), which pkgutil does not walk.
    gen = REPO_ROOT / "gen"
    for path in sorted(gen.glob("arco/**/*_pb2.py")):
        name = ".".join(path.relative_to(gen).with_suffix("").parts)
        yield from importlib.import_module(name).DESCRIPTOR.services_by_name.values()


ALL_SERVICES = {service.full_name: service for service in _services()}


def _http_rule(method: MethodDescriptor) -> http_pb2.HttpRule | None:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return None
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    return rule


def test_every_contract_service_has_a_servicer() -> None:
    assert set(ALL_SERVICES) == set(SERVICERS)


@pytest.mark.parametrize("service_name", sorted(SERVICERS))
def test_every_rpc_is_implemented_by_our_servicer(service_name: str) -> None:
    servicer = SERVICERS[service_name]
    # The generated base, wherever mixins of RPC families put it in the MRO.
    generated_base = next(c for c in servicer.__mro__ if c.__module__.endswith("_pb2_grpc"))
    for method in ALL_SERVICES[service_name].methods:
        implementation = getattr(servicer, method.name, None)
        assert implementation is not None, f"{service_name}.{method.name} has no method"
        assert implementation is not getattr(generated_base, method.name), (
            f"{service_name}.{method.name} falls through to the generated base class"
        )


@pytest.mark.parametrize("service_name", sorted(PUBLIC))
def test_every_public_rpc_has_an_api_v1_route(service_name: str) -> None:
    for method in ALL_SERVICES[service_name].methods:
        rule = _http_rule(method)
        assert rule is not None, f"{method.full_name} has no google.api.http annotation"
        path = getattr(rule, rule.WhichOneof("pattern"))
        assert path.startswith("/api/v1/"), f"{method.full_name}: {path}"


@pytest.mark.parametrize("service_name", sorted(set(SERVICERS) - PUBLIC))
def test_internal_rpcs_have_no_public_route(service_name: str) -> None:
    for method in ALL_SERVICES[service_name].methods:
        assert _http_rule(method) is None, f"internal {method.full_name} must not be routed"


def test_one_request_and_response_message_per_rpc() -> None:
    seen: dict[str, str] = {}
    for service in ALL_SERVICES.values():
        for method in service.methods:
            for message in (method.input_type, method.output_type):
                assert message.full_name not in seen, (
                    f"{message.full_name} used by {seen[message.full_name]} and {method.full_name}"
                )
                seen[message.full_name] = method.full_name
