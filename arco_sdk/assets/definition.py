"""The asset definition and the ``@asset`` decorator that builds one from a function:
its key, its inputs (bound parameters and ``deps``), partitions, policies and checks;
and :func:`run_checks`, which evaluates the post checks on what it produced."""

from __future__ import annotations

import hashlib
import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import pyarrow as pa

from arco_core.errors import InvalidArgument
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE
from arco_core.partition import PartitionKey, ScalarValue
from arco_sdk.assets.checks import Check
from arco_sdk.assets.context import AssetContext, AssetResult
from arco_sdk.assets.keys import NAME_PATTERN, AssetKey
from arco_sdk.assets.partitions import PartitionDimension
from arco_sdk.assets.policies import ExecutionPolicy, IoConfig, Resources
from arco_sdk.errors import AssetDefinitionError, DataQualityError

__all__ = ["AssetDefinition", "DepSpec", "InputSpec", "asset", "run_checks"]

_CONTEXT_NAMES = frozenset({"ctx", "context"})


@dataclass(frozen=True, slots=True)
class InputSpec:
    """A declared upstream: bound to a parameter, to an explicit key, or both."""

    parameter_name: str | None
    key: AssetKey | None


@dataclass(frozen=True, eq=False)
class AssetDefinition:
    """A decorated asset. Calling it calls the underlying function."""

    key: AssetKey
    fn: Callable[..., Any]
    description: str
    owners: tuple[str, ...]
    tags: Mapping[str, str]
    partitions: tuple[PartitionDimension, ...]
    execution: ExecutionPolicy
    resources: Resources
    io: IoConfig
    checks: tuple[Check, ...]
    inputs: tuple[InputSpec, ...]
    context_parameter: str | None
    module: str
    function: str
    file_path: str
    line_number: int
    transform_fingerprint: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    @property
    def is_partitioned(self) -> bool:
        return bool(self.partitions)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(spec.parameter_name for spec in self.inputs if spec.parameter_name)

    def dimension(self, name: str) -> PartitionDimension | None:
        for dim in self.partitions:
            if dim.name == name:
                return dim
        return None

    def partition_key(self, **values: object) -> PartitionKey:
        """Build (and validate) a canonical partition key for this asset."""
        names = {dim.name for dim in self.partitions}
        if set(values) != names:
            raise InvalidArgument(
                f"asset {self.key} is partitioned by {sorted(names) or 'nothing'}; "
                f"got {sorted(values)}"
            )
        typed: dict[str, ScalarValue] = {}
        for name, raw in values.items():
            dim = self.dimension(name)
            assert dim is not None
            value = dim.coerce(raw) if isinstance(raw, str) else ScalarValue.from_value(raw)
            dim.validate(value)
            typed[name] = value
        return PartitionKey.of(typed)

    def validate_partition(self, key: PartitionKey) -> None:
        """Refuse a partition key that does not fit this asset's dimensions."""
        names = {dim.name for dim in self.partitions}
        given = {name for name, _ in key}
        if given != names:
            if not names:
                raise InvalidArgument(f"asset {self.key} is not partitioned; got {key}")
            if not given:
                raise InvalidArgument(
                    f"asset {self.key} is partitioned by {', '.join(sorted(names))} but no "
                    "partition key was given; refusing to run unpartitioned"
                )
            raise InvalidArgument(
                f"partition key {key} does not match asset {self.key} dimensions "
                f"{', '.join(sorted(names))}"
            )
        for name, value in key:
            dim = self.dimension(name)
            assert dim is not None
            dim.validate(value)


def _fingerprint(fn: Callable[..., Any]) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        source = f"{fn.__module__}.{fn.__qualname__}"
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def _default_namespace(module: str) -> str:
    last = module.rsplit(".", 1)[-1]
    return last if NAME_PATTERN.fullmatch(last) and last != "__main__" else "default"


def _is_context_parameter(param: inspect.Parameter) -> bool:
    annotation = param.annotation
    if annotation is AssetContext or annotation == "AssetContext":
        return True
    return param.name in _CONTEXT_NAMES


def _as_key(value: str | AssetKey | AssetDefinition, owner: str) -> AssetKey:
    if isinstance(value, AssetDefinition):
        return value.key
    try:
        return AssetKey.parse(value)
    except AssetDefinitionError as exc:
        raise AssetDefinitionError(f"asset {owner}: dependency {exc}") from None


DepSpec = (
    Sequence[str | AssetKey | AssetDefinition] | Mapping[str, str | AssetKey | AssetDefinition]
)


def _build(
    fn: Callable[..., Any],
    *,
    name: str | None,
    namespace: str | None,
    key: str | AssetKey | None,
    deps: DepSpec | None,
    partitions: PartitionDimension | Sequence[PartitionDimension] | None,
    description: str | None,
    owners: Sequence[str],
    tags: Mapping[str, str] | None,
    checks: Sequence[Check],
    execution: ExecutionPolicy,
    resources: Resources,
    io: IoConfig,
) -> AssetDefinition:
    if not callable(fn) or not hasattr(fn, "__qualname__"):
        raise AssetDefinitionError(f"@asset must decorate a function, got {fn!r}")
    module = getattr(fn, "__module__", None) or "__main__"
    if key is not None:
        if name is not None or namespace is not None:
            raise AssetDefinitionError(
                f"{fn.__qualname__}: give key= or name=/namespace=, not both"
            )
        asset_key = AssetKey.parse(key)
    else:
        asset_key = AssetKey(namespace or _default_namespace(module), name or fn.__name__)
    label = str(asset_key)

    signature = inspect.signature(fn)
    context_parameter: str | None = None
    params: list[str] = []
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise AssetDefinitionError(
                f"asset {label}: *args/**kwargs parameters are not supported"
            )
        if index == 0 and _is_context_parameter(param):
            context_parameter = param.name
            continue
        if _is_context_parameter(param):
            raise AssetDefinitionError(
                f"asset {label}: the context parameter {param.name!r} must come first"
            )
        params.append(param.name)

    inputs: list[InputSpec] = []
    bound: set[str] = set()
    if isinstance(deps, Mapping):
        for param_name, target in deps.items():
            if param_name not in params:
                raise AssetDefinitionError(
                    f"asset {label}: deps names parameter {param_name!r}, which the function "
                    f"does not have (parameters: {', '.join(params) or 'none'})"
                )
            inputs.append(InputSpec(param_name, _as_key(target, label)))
            bound.add(param_name)
    elif deps is not None:
        if isinstance(deps, (str, AssetKey, AssetDefinition)):
            deps = [deps]
        for target in deps:
            dep_key = _as_key(target, label)
            binds = dep_key.name in params and dep_key.name not in bound
            if binds:
                bound.add(dep_key.name)
            inputs.append(InputSpec(dep_key.name if binds else None, dep_key))
    for param_name in params:
        if param_name not in bound:
            inputs.append(InputSpec(param_name, None))

    dims: tuple[PartitionDimension, ...]
    if partitions is None:
        dims = ()
    elif isinstance(partitions, PartitionDimension):
        dims = (partitions,)
    else:
        dims = tuple(partitions)
    for dim in dims:
        if not isinstance(dim, PartitionDimension):
            raise AssetDefinitionError(f"asset {label}: {dim!r} is not a partition dimension")
    dim_names = [dim.name for dim in dims]
    if len(set(dim_names)) != len(dim_names):
        raise AssetDefinitionError(f"asset {label}: duplicate partition dimension names")

    for label_name, values in (("owners", owners),):
        if isinstance(values, str) or not all(isinstance(v, str) for v in values):
            raise AssetDefinitionError(f"asset {label}: {label_name} must be a list of strings")
    tag_map = dict(tags or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in tag_map.items()):
        raise AssetDefinitionError(f"asset {label}: tags must map strings to strings")
    check_list = tuple(checks)
    check_names = [check.name for check in check_list]
    if len(set(check_names)) != len(check_names):
        raise AssetDefinitionError(f"asset {label}: duplicate check names {check_names}")

    doc = inspect.getdoc(fn) or ""
    try:
        file_path = inspect.getsourcefile(fn) or ""
        line_number = inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        file_path, line_number = "", 0
    return AssetDefinition(
        key=asset_key,
        fn=fn,
        description=description if description is not None else (doc.splitlines() or [""])[0],
        owners=tuple(owners),
        tags=tag_map,
        partitions=dims,
        execution=execution,
        resources=resources,
        io=io,
        checks=check_list,
        inputs=tuple(inputs),
        context_parameter=context_parameter,
        module=module,
        function=fn.__qualname__,
        file_path=file_path,
        line_number=line_number,
        transform_fingerprint=_fingerprint(fn),
    )


@overload
def asset(fn: Callable[..., Any], /) -> AssetDefinition: ...


@overload
def asset(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    namespace: str | None = None,
    key: str | AssetKey | None = None,
    deps: DepSpec | None = None,
    partitions: PartitionDimension | Sequence[PartitionDimension] | None = None,
    description: str | None = None,
    owners: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    checks: Sequence[Check] = (),
    max_retries: int = 3,
    retry_delay_seconds: int = 60,
    timeout_seconds: int = 3600,
    heartbeat_timeout_seconds: int = 300,
    worker_queue: str = DEFAULT_WORKER_QUEUE,
    cpu_millicores: int = 1000,
    memory_mib: int = 1024,
    io_format: str = "parquet",
    compression: str = "snappy",
) -> Callable[[Callable[..., Any]], AssetDefinition]: ...


def asset(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    namespace: str | None = None,
    key: str | AssetKey | None = None,
    deps: DepSpec | None = None,
    partitions: PartitionDimension | Sequence[PartitionDimension] | None = None,
    description: str | None = None,
    owners: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    checks: Sequence[Check] = (),
    max_retries: int = 3,
    retry_delay_seconds: int = 60,
    timeout_seconds: int = 3600,
    heartbeat_timeout_seconds: int = 300,
    worker_queue: str = DEFAULT_WORKER_QUEUE,
    cpu_millicores: int = 1000,
    memory_mib: int = 1024,
    io_format: str = "parquet",
    compression: str = "snappy",
) -> AssetDefinition | Callable[[Callable[..., Any]], AssetDefinition]:
    """Declare an asset. Use bare (``@asset``) or with options (``@asset(namespace=...)``).

    The key defaults to ``<last module segment>.<function name>``. Input parameters are
    upstream assets (matched by asset name, or bound through ``deps``); ``deps`` may also
    list upstreams that are ordering-only.
    """

    def decorate(function: Callable[..., Any]) -> AssetDefinition:
        return _build(
            function,
            name=name,
            namespace=namespace,
            key=key,
            deps=deps,
            partitions=partitions,
            description=description,
            owners=owners,
            tags=tags,
            checks=checks,
            execution=ExecutionPolicy(
                max_retries=max_retries,
                retry_delay_seconds=retry_delay_seconds,
                timeout_seconds=timeout_seconds,
                heartbeat_timeout_seconds=heartbeat_timeout_seconds,
                worker_queue=worker_queue,
            ),
            resources=Resources(cpu_millicores=cpu_millicores, memory_mib=memory_mib),
            io=IoConfig(format=io_format, compression=compression),
        )

    if fn is not None:
        return decorate(fn)
    return decorate


def run_checks(
    definition: AssetDefinition, result: AssetResult | None, table: pa.Table | None
) -> None:
    """Evaluate the post checks; an error/critical failure raises DataQualityError."""
    row_count = result.row_count if result is not None else None
    failures = []
    for check in definition.checks:
        if check.phase != "post":
            continue
        message = check.evaluate(row_count, table)
        if message and check.severity in ("error", "critical"):
            failures.append(message)
    if failures:
        raise DataQualityError("; ".join(failures))
