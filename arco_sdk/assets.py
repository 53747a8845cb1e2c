"""Asset definitions: the ``@asset`` decorator, keys, partitions, policies, checks, and
what an asset function receives (:class:`AssetContext`, :class:`AssetInput`) and returns
(:class:`AssetResult`, a ``pyarrow.Table`` or ``None``).

An asset is a function. Its first parameter may be the context (named ``ctx`` or
``context``, or annotated :class:`AssetContext`); every other parameter is an upstream
input, named after the upstream asset (``def cleaned(ctx, raw_events)``) or bound
explicitly with ``deps={"events": "raw.events"}``. At run time each input parameter gets
an :class:`AssetInput` that reads what the upstream wrote.

Definitions are plain values: ``@asset`` registers nothing globally. Discovery
(:mod:`arco_sdk.manifest`) finds them as module attributes.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import sys
import textwrap
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, overload

import pyarrow as pa

from arco_core.errors import InvalidArgument
from arco_core.orchestration.state import DEFAULT_WORKER_QUEUE
from arco_core.partition import PartitionKey, ScalarValue
from arco_sdk.errors import AssetDefinitionError, DataQualityError, TaskCancelled
from arco_sdk.io import ParquetStore

__all__ = [
    "AssetContext",
    "AssetDefinition",
    "AssetInput",
    "AssetKey",
    "AssetResult",
    "Check",
    "DailyPartition",
    "ExecutionPolicy",
    "HourlyPartition",
    "IoConfig",
    "NotNullCheck",
    "PartitionDimension",
    "Resources",
    "RowCountCheck",
    "StaticPartition",
    "TaskLogger",
    "asset",
]

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_CONTEXT_NAMES = frozenset({"ctx", "context"})
Severity = Literal["info", "warning", "error", "critical"]


# -- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class AssetKey:
    """``namespace.name``; both parts match ``[a-z][a-z0-9_]*``. ``ns/name`` is accepted
    on input; the wire form is the dotted one."""

    namespace: str
    name: str

    def __post_init__(self) -> None:
        for part, label in ((self.namespace, "namespace"), (self.name, "name")):
            if not isinstance(part, str) or not _IDENT.fullmatch(part):
                raise AssetDefinitionError(
                    f"invalid asset key {label} {part!r}: must match [a-z][a-z0-9_]*"
                )

    @classmethod
    def parse(cls, text: str | AssetKey) -> AssetKey:
        if isinstance(text, AssetKey):
            return text
        if not isinstance(text, str) or text != text.strip() or not text:
            raise AssetDefinitionError(f"invalid asset key {text!r}: expected 'namespace.name'")
        sep = "/" if "/" in text else "."
        namespace, found, name = text.partition(sep)
        if not found:
            raise AssetDefinitionError(f"invalid asset key {text!r}: expected 'namespace.name'")
        return cls(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"

    def to_wire(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name}


# -- partitions ----------------------------------------------------------------------------


class PartitionDimension:
    """One partition dimension. Subclasses describe the allowed values."""

    name: str
    kind: str

    def _check_name(self) -> None:
        if not _IDENT.fullmatch(self.name):
            raise AssetDefinitionError(
                f"invalid partition dimension name {self.name!r}: must match [a-z][a-z0-9_]*"
            )

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    def coerce(self, text: str) -> ScalarValue:
        """Type a user-supplied value (e.g. from ``arco run -p date=2026-01-01``)."""
        raise NotImplementedError

    def validate(self, value: ScalarValue) -> None:
        """Raise :class:`InvalidArgument` if ``value`` is not allowed here."""
        raise NotImplementedError


@dataclass(frozen=True)
class _TimeDimension(PartitionDimension):
    name: str
    granularity: Literal["day", "hour"]
    kind: str = field(default="time", init=False)

    def __post_init__(self) -> None:
        self._check_name()

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "time", "granularity": self.granularity}

    def coerce(self, text: str) -> ScalarValue:
        if self.granularity == "day":
            try:
                return ScalarValue("date", date.fromisoformat(text))
            except ValueError:
                raise InvalidArgument(
                    f"partition {self.name}: {text!r} is not a date (YYYY-MM-DD)"
                ) from None
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument(
                f"partition {self.name}: {text!r} is not a timestamp (YYYY-MM-DDTHH:00:00Z)"
            ) from None
        value = ScalarValue.from_value(stamp)
        self.validate(value)
        return value

    def validate(self, value: ScalarValue) -> None:
        if self.granularity == "day":
            if value.kind != "date":
                raise InvalidArgument(f"partition {self.name} must be a date (d:YYYY-MM-DD)")
            return
        if value.kind != "timestamp" or not isinstance(value.value, datetime):
            raise InvalidArgument(f"partition {self.name} must be a timestamp (t:...)")
        stamp = value.value.astimezone(UTC)
        if (stamp.minute, stamp.second, stamp.microsecond) != (0, 0, 0):
            raise InvalidArgument(f"partition {self.name} must be aligned to the hour")


def DailyPartition(name: str = "date") -> PartitionDimension:
    """A day-granular time dimension (values ``d:YYYY-MM-DD``)."""
    return _TimeDimension(name, "day")


def HourlyPartition(name: str = "hour") -> PartitionDimension:
    """An hour-granular time dimension (values ``t:YYYY-MM-DDTHH:00:00.000000Z``)."""
    return _TimeDimension(name, "hour")


@dataclass(frozen=True)
class StaticPartition(PartitionDimension):
    """A dimension over a fixed set of string values."""

    name: str
    values: tuple[str, ...]
    kind: str = field(default="static", init=False)

    def __init__(self, name: str, values: Sequence[str]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "values", tuple(values))
        self._check_name()
        if not self.values or len(set(self.values)) != len(self.values):
            raise AssetDefinitionError(
                f"static partition {name!r} needs distinct values, got {list(values)!r}"
            )

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "static", "values": list(self.values)}

    def coerce(self, text: str) -> ScalarValue:
        value = ScalarValue("string", text)
        self.validate(value)
        return value

    def validate(self, value: ScalarValue) -> None:
        if value.kind != "string" or value.value not in self.values:
            raise InvalidArgument(
                f"partition {self.name} must be one of {', '.join(self.values)}; "
                f"got {value.value!r}"
            )


# -- policies and checks ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    max_retries: int = 3
    retry_delay_seconds: int = 60
    timeout_seconds: int = 3600
    heartbeat_timeout_seconds: int = 300
    worker_queue: str = DEFAULT_WORKER_QUEUE

    def __post_init__(self) -> None:
        for label in ("max_retries", "retry_delay_seconds"):
            value = getattr(self, label)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise AssetDefinitionError(f"{label} must be a non-negative integer, got {value!r}")
        for label in ("timeout_seconds", "heartbeat_timeout_seconds"):
            value = getattr(self, label)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise AssetDefinitionError(f"{label} must be a positive integer, got {value!r}")
        if not self.worker_queue:
            raise AssetDefinitionError("worker_queue must not be empty")

    def to_wire(self) -> dict[str, Any]:
        return {
            "maxRetries": self.max_retries,
            "retryDelaySeconds": self.retry_delay_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "heartbeatTimeoutSeconds": self.heartbeat_timeout_seconds,
            "workerQueue": self.worker_queue,
        }


@dataclass(frozen=True, slots=True)
class Resources:
    cpu_millicores: int = 1000
    memory_mib: int = 1024

    def to_wire(self) -> dict[str, Any]:
        return {"cpuMillicores": self.cpu_millicores, "memoryMib": self.memory_mib}


@dataclass(frozen=True, slots=True)
class IoConfig:
    format: str = "parquet"
    compression: str = "snappy"
    partition_by: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "compression": self.compression,
            "partitionBy": list(self.partition_by),
        }


class Check:
    """A data check run by the worker after the asset produced its output."""

    name: str
    severity: Severity
    phase: Literal["pre", "post"] = "post"

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, row_count: int | None, table: pa.Table | None) -> str | None:
        """A failure message, or None when the check passes (or cannot be evaluated)."""
        raise NotImplementedError


@dataclass(frozen=True)
class RowCountCheck(Check):
    min_rows: int | None = None
    max_rows: int | None = None
    name: str = "row_count"
    severity: Severity = "error"

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "checkType": "row_count",
            "severity": self.severity,
            "phase": self.phase,
        }
        if self.min_rows is not None:
            body["minRows"] = self.min_rows
        if self.max_rows is not None:
            body["maxRows"] = self.max_rows
        return body

    def evaluate(self, row_count: int | None, table: pa.Table | None) -> str | None:
        if row_count is None:
            return None
        if self.min_rows is not None and row_count < self.min_rows:
            return f"check {self.name}: {row_count} rows, expected at least {self.min_rows}"
        if self.max_rows is not None and row_count > self.max_rows:
            return f"check {self.name}: {row_count} rows, expected at most {self.max_rows}"
        return None


@dataclass(frozen=True)
class NotNullCheck(Check):
    columns: tuple[str, ...] = ()
    name: str = ""
    severity: Severity = "error"

    def __post_init__(self) -> None:
        if not self.columns:
            raise AssetDefinitionError("NotNullCheck needs at least one column")
        if not self.name:
            object.__setattr__(self, "name", "not_null_" + "-".join(self.columns))

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "checkType": "not_null",
            "severity": self.severity,
            "phase": self.phase,
            "columns": list(self.columns),
        }

    def evaluate(self, row_count: int | None, table: pa.Table | None) -> str | None:
        if table is None:
            return None
        for column in self.columns:
            if column not in table.column_names:
                return f"check {self.name}: column {column!r} is missing"
            nulls = table.column(column).null_count
            if nulls:
                return f"check {self.name}: column {column!r} has {nulls} null values"
        return None


# -- run-time values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssetResult:
    """What an asset produced; becomes the ``output`` of the completed callback."""

    row_count: int | None = None
    output_path: str | None = None
    byte_size: int | None = None
    materialization_id: str | None = None
    output_visibility_state: Literal["PENDING", "VISIBLE", "FAILED"] | None = None

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.materialization_id is not None:
            body["materializationId"] = self.materialization_id
        if self.row_count is not None:
            body["rowCount"] = self.row_count
        if self.byte_size is not None:
            body["byteSize"] = self.byte_size
        if self.output_path is not None:
            body["outputPath"] = self.output_path
        if self.output_visibility_state is not None:
            body["outputVisibilityState"] = self.output_visibility_state
        return body


class TaskLogger:
    """The asset's logger. Lines go to ``sink`` (the worker captures them per task and
    uploads them with the task's logs); ``key=value`` pairs are appended."""

    def __init__(self, sink: Callable[[str], None], task_key: str = "") -> None:
        self._sink = sink
        self._task_key = task_key

    def _emit(self, level: str, message: str, fields: Mapping[str, Any]) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        extra = "".join(f" {key}={value!r}" for key, value in fields.items())
        self._sink(f"{now} {level:<7} {message}{extra}\n")

    def debug(self, message: str, **fields: Any) -> None:
        self._emit("DEBUG", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._emit("INFO", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("WARNING", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("ERROR", message, fields)

    def exception(self, message: str, **fields: Any) -> None:
        self._emit("ERROR", message, fields)
        self._sink(traceback.format_exc())


@dataclass(frozen=True)
class AssetInput:
    """An upstream asset's output, handed to a downstream parameter."""

    key: AssetKey
    partition: PartitionKey
    store: ParquetStore

    @property
    def path(self) -> Path:
        return self.store.path_for(self.key, self.partition)

    def exists(self) -> bool:
        return self.store.exists(self.key, self.partition)

    def read(self) -> pa.Table:
        return self.store.read(self.key, self.partition)

    @property
    def row_count(self) -> int:
        return self.store.row_count(self.key, self.partition)


def _stderr_sink(line: str) -> None:
    sys.stderr.write(line)


class AssetContext:
    """Everything an asset function may ask about its execution."""

    def __init__(
        self,
        *,
        asset_key: AssetKey,
        store: ParquetStore,
        run_id: str = "local",
        task_key: str | None = None,
        partition_key: PartitionKey | None = None,
        attempt: int = 1,
        attempt_id: str = "",
        tenant_id: str = "local",
        workspace_id: str = "default",
        payload: Mapping[str, Any] | None = None,
        log_sink: Callable[[str], None] | None = None,
        cancel_event: threading.Event | None = None,
    ) -> None:
        self.asset_key = asset_key
        self.store = store
        self.run_id = run_id
        self.task_key = task_key or str(asset_key)
        self.partition_key = partition_key or PartitionKey()
        self.attempt = attempt
        self.attempt_id = attempt_id
        self.tenant_id = tenant_id
        self.workspace_id = workspace_id
        self.payload: dict[str, Any] = dict(payload or {})
        self.log = TaskLogger(log_sink or _stderr_sink, self.task_key)
        self.cancel_event = cancel_event or threading.Event()
        self._progress_lock = threading.Lock()
        self._progress: tuple[int, str | None] | None = None

    # cancellation
    def should_cancel(self) -> bool:
        """True once the control plane (or a timeout, or shutdown) asked this task to stop."""
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise TaskCancelled("cancellation requested")

    # progress
    def report_progress(self, pct: int, message: str | None = None) -> None:
        """Record progress (0..100); the worker sends the latest value with the next
        heartbeat."""
        if isinstance(pct, bool) or not isinstance(pct, int) or not 0 <= pct <= 100:
            raise ValueError(f"progress must be an integer between 0 and 100, got {pct!r}")
        with self._progress_lock:
            self._progress = (pct, message)

    def progress(self) -> tuple[int, str | None] | None:
        with self._progress_lock:
            return self._progress

    # outputs
    @property
    def output_path(self) -> Path:
        """Where this asset's output for this partition lives."""
        return self.store.path_for(self.asset_key, self.partition_key)

    def write_parquet(self, table: pa.Table) -> AssetResult:
        """Write ``table`` as this asset's output (atomically) and describe it."""
        info = self.store.write(self.asset_key, table, self.partition_key)
        return AssetResult(
            row_count=info.row_count,
            output_path=str(info.path),
            byte_size=info.byte_size,
            materialization_id=info.materialization_id,
        )

    def input(self, key: str | AssetKey, partition: PartitionKey | None = None) -> AssetInput:
        """Any asset's output (defaults to this task's partition)."""
        return AssetInput(AssetKey.parse(key), partition or self.partition_key, self.store)


# -- the definition --------------------------------------------------------------------------


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
    return last if _IDENT.fullmatch(last) and last != "__main__" else "default"


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
