"""headway: connect the work people do to the strategy it should serve."""

from importlib import metadata as _metadata

from .connectors import Connector, Page, RunStats, SourceContext, State
from .errors import (
    ConfigError,
    ConnectorError,
    FatalError,
    HeadwayError,
    PluginError,
    Problem,
    RetryableError,
    ScoringError,
    StopSource,
    StoreError,
)
from .measures import MeasureContext
from .model import (
    Assignment,
    MetricPoint,
    Period,
    Rejected,
    Scorecard,
    Snapshot,
    Sweep,
    Tombstone,
    WorkItem,
)
from .plugins import hookimpl
from .secrets import Secret

try:
    __version__ = _metadata.version("headway")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Assignment",
    "ConfigError",
    "Connector",
    "ConnectorError",
    "FatalError",
    "HeadwayError",
    "MeasureContext",
    "MetricPoint",
    "Page",
    "Period",
    "PluginError",
    "Problem",
    "Rejected",
    "RetryableError",
    "RunStats",
    "Scorecard",
    "ScoringError",
    "Secret",
    "Snapshot",
    "SourceContext",
    "State",
    "StopSource",
    "StoreError",
    "Sweep",
    "Tombstone",
    "WorkItem",
    "__version__",
    "hookimpl",
]
