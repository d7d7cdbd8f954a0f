"""The Salesforce connector: SOQL over REST, per object, by SystemModstamp.

Each configured object is a stream with two partitions: ``""`` lists the
records changed since the saved watermark through ``/query`` (following
``nextRecordsUrl`` until ``done``), and ``"deleted"`` lists the records
deleted since its own watermark through ``/queryAll``, as tombstones. Both
save their watermark with every page, so an interrupted sync resumes where
it stopped.

Every answer's ``Sforce-Limit-Info: api-usage=N/M`` feeds a rate budget
that stops the source (``partial``, state kept) before the org's daily
quota reaches the reserve; a 403 ``REQUEST_LIMIT_EXCEEDED`` stops it too,
without a retry. With the OAuth keys set, a 401 ``INVALID_SESSION_ID``
refreshes the access token once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from headway.connectors import Page, SourceContext, State
from headway.errors import ConfigError, ConnectorError, Problem
from headway.secrets import redact
from headway_sdk import (
    Action,
    Auth,
    AuthError,
    BearerAuth,
    Classifier,
    Connector,
    CursorRun,
    Exchange,
    HttpError,
    HttpStream,
    NextUrlPaginator,
    NotFoundError,
    OAuth2RefreshToken,
    Paginator,
    Quota,
    RateBudget,
    RecordError,
    Request,
    ResponseRule,
    Tombstone,
    WatermarkCursor,
    describe_url,
    is_loopback,
    parse_timestamp,
)

from .config import SalesforceConfig
from .mapping import Mapper, modstamp_of
from .soql import FIELDS, changes_query, deletions_query

#: The partition of an object's stream that lists its deleted records.
DELETED = "deleted"

_USAGE = re.compile(r"(?:^|[\s;,])api-usage=(\d+)/(\d+)")
_NO_COLUMN = re.compile(r"No such column '([^']+)' on entity '([^']+)'")
_NO_RELATION = re.compile(r"Didn't understand relationship '([^']+)'")
_DETAIL_LENGTH = 300
# Every name in headway's own field paths, per object, in lower case: a
# refused one is headway's to read, whatever the user's condition says.
_READ_LOWER = {
    sobject: frozenset(part.lower() for name in names for part in name.split("."))
    for sobject, names in FIELDS.items()
}


def api_usage(headers: Mapping[str, str], now: datetime) -> Quota | None:
    """The org's daily quota from ``Sforce-Limit-Info: api-usage=USED/LIMIT``.

    The quota rolls over 24 hours, so no reset time is known: at the
    reserve, the budget stops the source instead of waiting.
    """
    value = headers.get("Sforce-Limit-Info") or headers.get("sforce-limit-info")
    match = _USAGE.search(value or "")
    if match is None:
        return None
    used, limit = int(match[1]), int(match[2])
    return Quota(remaining=max(0, limit - used), limit=limit)


class SalesforceClassifier(Classifier):
    """The SDK's defaults, a daily quota that is never retried, and
    Salesforce's error list worded for people."""

    def __init__(self) -> None:
        super().__init__(
            [
                # The org's daily quota: retrying only spends what other
                # tools of the org need; stop and resume tomorrow.
                ResponseRule(
                    Action.STOP,
                    status=403,
                    code="REQUEST_LIMIT_EXCEEDED",
                    reason="the org's daily API quota is spent",
                ),
            ]
        )

    def describe(self, exchange: Exchange) -> str | None:
        """``CODE: message`` per error of the list; of a query error, only its
        last line (the query echoed above it says nothing new)."""
        data = exchange.json_or_none()
        if not (
            isinstance(data, list)
            and data
            and all(isinstance(entry, Mapping) for entry in data)
            and any("errorCode" in entry for entry in data)
        ):
            return super().describe(exchange)
        parts = []
        for entry in data[:3]:
            lines = [
                line.strip() for line in str(entry.get("message") or "").split("\n")
            ]
            message = next((line for line in reversed(lines) if line), "")
            code = entry.get("errorCode")
            parts.append(f"{code}: {message}" if code and message else code or message)
        detail = re.sub(r"\s+", " ", "; ".join(p for p in parts if p)).strip()
        if len(detail) > _DETAIL_LENGTH:
            detail = detail[: _DETAIL_LENGTH - 1] + "…"
        return detail or None


class ObjectStream(HttpStream):
    """One object's records: changes (partition ``""``) and deletions.

    :param connector: the connector.
    :param sobject: the object's API name (``Opportunity``).
    """

    records_path = "records"

    def __init__(self, connector: SalesforceConnector, sobject: str):
        super().__init__(connector)
        self.connector: SalesforceConnector = connector
        self.sobject = sobject
        # The stream's key in sync_state is the object's name.
        self.name = sobject  # type: ignore[misc]

    def partitions(self) -> list[str]:
        """Changed records, then deleted ones."""
        return ["", DELETED]

    def paginator(self) -> Paginator:
        """``nextRecordsUrl`` until ``done``."""
        return NextUrlPaginator(path="nextRecordsUrl", done_path="done")

    def cursor(self) -> WatermarkCursor:
        """A watermark on SystemModstamp, re-reading ``lookback`` each sync."""
        return WatermarkCursor(
            field=modstamp_of, lookback=self.config.lookback, start=self.config.start
        )

    def request(self, partition: str, run: CursorRun) -> Request:
        """The SOQL query of the partition, from the cursor's ``since``."""
        if partition == DELETED:
            resource = "queryAll"
            soql = deletions_query(self.sobject, run.since)
        else:
            resource = "query"
            soql = changes_query(
                self.sobject,
                run.since,
                extra=self.config.fields.get(self.sobject, ()),
                where=self.config.where.get(self.sobject),
            )
        return Request(
            "GET",
            self.connector.api_path(resource),
            params={"q": soql},
            headers={"Sforce-Query-Options": f"batchSize={self.config.page_size}"},
        )

    def parse_record(self, raw: Any, partition: str) -> Any:
        """A changed record as an item; a deleted one as a tombstone."""
        if partition != DELETED:
            return self.connector.mapper.record(self.sobject, raw)
        ident = raw.get("Id") if isinstance(raw, Mapping) else None
        if not isinstance(ident, str) or not ident:
            raise RecordError(f"a deleted {self.sobject} record without an Id")
        try:
            deleted_at = parse_timestamp(raw.get("SystemModstamp"))
        except ValueError as error:
            raise RecordError(f"SystemModstamp: {error}") from None
        return Tombstone(ident, deleted_at)

    def record_id(self, raw: Any) -> str | None:
        """The record's ``Id``."""
        value = raw.get("Id") if isinstance(raw, Mapping) else None
        return str(value) if value is not None else None

    def read(self, partition: str, saved: Mapping[str, Any] | None) -> Iterator[Page]:
        """The partition's pages; a refused query says what to change."""
        try:
            yield from super().read(partition, saved)
        except AuthError:
            raise
        except HttpError as error:
            raise self.connector.explain(error, self.sobject) from None


class SalesforceConnector(Connector[SalesforceConfig]):
    """Reads opportunities, cases, tasks and events from one Salesforce org."""

    config_class = SalesforceConfig
    distribution = "headway-salesforce"

    def __init__(self, config: SalesforceConfig, context: SourceContext):
        super().__init__(config, context)
        self.mapper = Mapper(config, lambda: self.client.base_url)

    @classmethod
    def build(cls, context: SourceContext) -> SalesforceConnector:
        """Parse the source table; a team ``teams`` names must be a known one.

        :raises ConfigError: every problem, at ``sources.NAME.KEY``.
        """
        connector = super().build(context)
        assert isinstance(connector, SalesforceConnector)
        known = (
            [team.key for team in context.scorecard.teams] if context.scorecard else []
        )
        # Without any [teams] the names given here are the teams; with some,
        # a name that is not among them is a typo that would split a team.
        problems = [
            Problem(
                f"sources.{context.name}.teams.{owner}",
                f"unknown team {team!r}; [teams] defines {', '.join(known)}",
            )
            for owner, team in connector.config.teams.items()
            if known and team not in known
        ]
        if problems:
            raise ConfigError(problems)
        return connector

    # ------------------------------------------------------------ the client

    def base_url(self) -> str:
        """The instance URL (replaced by the one a token answer names)."""
        return self.config.root

    def auth(self) -> Auth:
        """OAuth with refresh when its keys are set, else the access token."""
        config = self.config
        if config.oauth:
            assert config.client_id and config.client_secret and config.refresh_token
            return OAuth2RefreshToken(
                f"{config.login_url.rstrip('/')}/services/oauth2/token",
                config.client_id,
                config.client_secret,
                config.refresh_token,
                access_token=config.token,
                on_token=self._took_token,
            )
        assert config.token is not None
        return BearerAuth(config.token)

    def classifier(self) -> Classifier:
        """Salesforce's errors and its daily quota."""
        return SalesforceClassifier()

    def budget(self) -> RateBudget:
        """The daily quota from ``Sforce-Limit-Info``, keeping the reserve."""
        return RateBudget(reserve=self.config.quota_reserve, read=api_usage)

    def api_path(self, resource: str) -> str:
        """``/services/data/vNN.N/RESOURCE`` for the configured version."""
        return f"/services/data/v{self.config.api_version}/{resource}"

    def _took_token(self, answer: Mapping[str, Any]) -> None:
        # The token endpoint names the instance the org lives on; requests
        # (and nextRecordsUrl paths) go there from now on.
        instance = answer.get("instance_url")
        if not isinstance(instance, str) or not instance:
            return
        instance = instance.rstrip("/")
        if not instance.startswith("https://") and not (
            instance.startswith("http://") and is_loopback(instance)
        ):
            # The token would travel in the clear: keep the configured URL.
            self.log.warning(
                "the token answer names the instance %s, which is not https; "
                "staying with %s",
                describe_url(instance),
                describe_url(self.client.base_url),
            )
            return
        if instance != self.client.base_url:
            self.log.info("the token answer names the instance %s; using it", instance)
            self.client.base_url = instance

    # ------------------------------------------------------------ the contract

    def streams(self) -> Sequence[ObjectStream]:
        """One stream per configured object, in the configured order."""
        return [ObjectStream(self, sobject) for sobject in self.config.objects]

    def check(self) -> None:
        """The API version is offered, the credentials work, and each object's
        query is accepted (one record each).

        :raises ConnectorError: naming every problem found.
        """
        versions = self.client.get("/services/data/", authenticate=False).data
        offered = sorted(
            (str(v.get("version")) for v in versions or () if isinstance(v, Mapping)),
            key=_version_key,
        )
        if offered and self.config.api_version not in offered:
            raise ConnectorError(
                f"{self.client.service} does not offer API version "
                f"{self.config.api_version} (it offers {offered[0]} to {offered[-1]}); "
                f"set sources.{self.context.name}.api_version to one of them",
                source=self.context.name,
            )
        limits = self.client.get(self.api_path("limits")).data
        daily = limits.get("DailyApiRequests") if isinstance(limits, Mapping) else None
        if isinstance(daily, Mapping):
            self.log.info(
                "daily API requests: %s of %s left",
                daily.get("Remaining"),
                daily.get("Max"),
            )
        problems = []
        for sobject in self.config.objects:
            soql = changes_query(
                sobject,
                None,
                extra=self.config.fields.get(sobject, ()),
                where=self.config.where.get(sobject),
                limit=1,
            )
            try:
                self.client.get(self.api_path("query"), params={"q": soql})
            except AuthError:
                raise
            except HttpError as error:
                problems.append(f"{sobject}: {self.explain(error, sobject)}")
        if problems:
            raise ConnectorError(redact("; ".join(problems)), source=self.context.name)

    def read(self, state: State) -> Iterator[Page]:
        """Every object's changes and deletions, each page with its watermark.

        :raises AuthError: the credentials were refused (with what to do).
        :raises StopSource: the daily quota reached its reserve or is spent.
        """
        try:
            yield from super().read(state)
        except AuthError as error:
            if self.config.oauth:
                raise
            raise AuthError(
                f"{error}; an access token lasts only as long as its session: set "
                f"client_id, client_secret and refresh_token in "
                f"sources.{self.context.name} so headway can refresh it, or give a "
                "new token",
                status=error.status,
                url=error.url,
                detail=error.detail,
                code=error.code,
                source=self.context.name,
            ) from None
        finally:
            budget = self.client.budget if "client" in self.__dict__ else None
            if budget is not None and budget.quota is not None:
                self.log.info(
                    "daily API requests: %d of %s left",
                    budget.quota.remaining,
                    budget.quota.limit,
                )

    # ------------------------------------------------------------ messages

    def explain(self, error: HttpError, sobject: str) -> HttpError:
        """A refused query's error, saying which setting to change."""
        source = f"sources.{self.context.name}"
        detail = error.detail or f"HTTP {error.status}"
        code = error.code
        if code == "INVALID_FIELD":
            message = self._explain_field(detail, sobject, source)
        elif code == "MALFORMED_QUERY":
            if sobject in self.config.where:
                message = (
                    f"Salesforce could not parse the query ({detail}); check the "
                    f"condition in {source}.where.{sobject}, which headway adds to it"
                )
            else:
                message = (
                    f"Salesforce could not parse the query headway sent ({detail}); "
                    f"check {source}.api_version ({self.config.api_version})"
                )
        elif code == "INVALID_TYPE":
            message = (
                f"the integration user cannot query {sobject} in this org "
                f"({detail}); give the user access to it, or leave it out of "
                f"{source}.objects"
            )
        elif code == "INVALID_QUERY_LOCATOR":
            message = (
                f"the listing expired before it was read to the end ({detail}); "
                "the next sync goes on from the saved watermark"
            )
        elif isinstance(error, NotFoundError):
            message = (
                f"{error.url} was not found ({detail}); check {source}.api_version "
                f"({self.config.api_version}) and {source}.instance_url"
            )
        else:
            message = str(error)
        return type(error)(
            redact(message),
            status=error.status,
            url=error.url,
            detail=error.detail,
            code=code,
            source=self.context.name,
        )

    def _explain_field(self, detail: str, sobject: str, source: str) -> str:
        # The first sentence names the field; the rest is Salesforce's
        # generic advice about custom field suffixes.
        detail = detail.split(". ", 1)[0].rstrip(".")
        extra = self.config.fields.get(sobject, ())
        column = _NO_COLUMN.search(detail)
        relation = _NO_RELATION.search(detail)
        named = column[1] if column else relation[1] if relation else None
        if named is not None:
            wanted = named.lower()
            for path in extra:
                parts = path.lower().split(".")
                if wanted == parts[-1] or (relation and wanted == parts[0]):
                    return (
                        f"the field {path!r} in {source}.fields.{sobject} does not "
                        f"exist in this org, or the integration user cannot read it "
                        f"({detail}); correct or remove it there, or grant the user "
                        "read access to it"
                    )
            entity = column[2] if column else sobject
            condition = self.config.where.get(sobject)
            if (
                condition
                and named.lower() not in _READ_LOWER[sobject]
                and re.search(rf"(?<!\w){re.escape(named)}(?!\w)", condition, re.I)
            ):
                return (
                    f"the field {named!r} in the condition {source}.where.{sobject} "
                    f"does not exist in this org, or the integration user cannot "
                    f"read it ({detail}); correct the condition there, or grant the "
                    "user read access to that field"
                )
            return (
                f"the integration user cannot read {entity}.{named}, which headway "
                f"reads ({detail}); grant read access to that field (field-level "
                f"security), or leave {sobject} out of {source}.objects"
            )
        if self.config.where.get(sobject):
            # Salesforce's words name no column (a value of the wrong type,
            # say), so the user's condition is as likely a cause as fields.
            return (
                f"Salesforce refused a field or value of the query ({detail}); "
                f"check the condition in {source}.where.{sobject}, which headway "
                f"adds to the query, and {source}.fields.{sobject}"
            )
        return (
            f"Salesforce refused a field of the query ({detail}); check "
            f"{source}.fields.{sobject}"
        )


def _version_key(version: str) -> tuple[float, str]:
    try:
        return float(version), version
    except ValueError:
        return 0.0, version
