"""headway-sdk: what connector authors build on.

Everything a connector needs is importable from here: the HTTP client and
its auth helpers, the response classifier and wait rules, paginators,
cursors, the settings helpers and the base classes. The testing kit lives
in :mod:`headway_sdk.testing`. ``docs/sdk.md`` is the reference.
"""

from importlib import metadata as _metadata

from headway import (
    MetricPoint,
    Page,
    Rejected,
    Secret,
    SourceContext,
    State,
    Sweep,
    Tombstone,
    WorkItem,
    hookimpl,
)

from .auth import (
    Auth,
    BasicAuth,
    BearerAuth,
    HeaderAuth,
    OAuth2,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
)
from .classify import (
    Action,
    Classifier,
    Exchange,
    ResponseRule,
    Verdict,
    error_code,
    error_detail,
    says_rate_limited,
)
from .clock import Clock, FakeClock, SystemClock, get_clock, set_clock
from .config import HttpSettings, help_of, http_url, option, parse_options, positive
from .connector import Connector, HttpStream, Stream
from .cursors import (
    Cursor,
    CursorRun,
    FullRefreshCursor,
    FullRefreshRun,
    SyncTokenCursor,
    SyncTokenRun,
    WatermarkCursor,
    WatermarkRun,
)
from .errors import (
    AuthError,
    GoneError,
    HttpError,
    NotFoundError,
    PaginationError,
    RecordError,
    RetriesExhaustedError,
    keep_earlier_failures,
)
from .http import (
    HttpClient,
    HttpResponse,
    Request,
    describe_url,
    environment_ca_bundle,
    environment_proxies,
    is_loopback,
    user_agent,
)
from .pagination import (
    LinkHeaderPaginator,
    NextTokenPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageResult,
    Paginator,
)
from .parsing import dig, format_timestamp, list_field, parse_timestamp, start_of
from .ratelimit import (
    Quota,
    RateBudget,
    RetryPolicy,
    Wait,
    read_rate_headers,
    reset_time,
    reset_wait,
    retry_after,
)

try:
    __version__ = _metadata.version("headway-sdk")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Action",
    "Auth",
    "AuthError",
    "BasicAuth",
    "BearerAuth",
    "Classifier",
    "Clock",
    "Connector",
    "Cursor",
    "CursorRun",
    "Exchange",
    "FakeClock",
    "FullRefreshCursor",
    "FullRefreshRun",
    "GoneError",
    "HeaderAuth",
    "HttpClient",
    "HttpError",
    "HttpResponse",
    "HttpSettings",
    "HttpStream",
    "LinkHeaderPaginator",
    "MetricPoint",
    "NextTokenPaginator",
    "NextUrlPaginator",
    "NotFoundError",
    "OAuth2",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageResult",
    "PaginationError",
    "Paginator",
    "Quota",
    "RateBudget",
    "RecordError",
    "Rejected",
    "Request",
    "ResponseRule",
    "RetriesExhaustedError",
    "RetryPolicy",
    "Secret",
    "SourceContext",
    "State",
    "Stream",
    "Sweep",
    "SyncTokenCursor",
    "SyncTokenRun",
    "SystemClock",
    "Tombstone",
    "Verdict",
    "Wait",
    "WatermarkCursor",
    "WatermarkRun",
    "WorkItem",
    "__version__",
    "describe_url",
    "dig",
    "environment_ca_bundle",
    "environment_proxies",
    "error_code",
    "error_detail",
    "format_timestamp",
    "get_clock",
    "help_of",
    "hookimpl",
    "http_url",
    "is_loopback",
    "keep_earlier_failures",
    "list_field",
    "option",
    "parse_options",
    "parse_timestamp",
    "positive",
    "read_rate_headers",
    "reset_time",
    "reset_wait",
    "retry_after",
    "says_rate_limited",
    "set_clock",
    "start_of",
    "user_agent",
]
