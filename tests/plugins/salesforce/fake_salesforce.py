"""A fake Salesforce org on loopback, speaking the REST API's wire format.

Shapes follow the recorded responses in ``/work/shared/fixtures/salesforce``
(restforce's spec fixtures, MIT) and Salesforce's REST API docs:

- ``GET /services/data/vNN.N/query?q=SOQL`` and ``/queryAll`` answer
  ``{"totalSize", "done", "nextRecordsUrl", "records"}``, each record with
  ``attributes.type`` and ``attributes.url``, relationships as nested
  records, times as ``2024-01-05T10:11:12.000+0000``; ``nextRecordsUrl`` is
  a path to the query locator and the offset of the next batch
  (``/services/data/v62.0/query/01gD...-2000``), absent on the last page.
  It reads ``query`` for a ``queryAll`` listing too, and either resource
  serves the next batch of either listing, as Salesforce documents under
  "QueryAll More Results". ``Sforce-Query-Options: batchSize=N`` sets the
  batch size (200 to 2000). ``/query`` leaves out deleted records,
  ``/queryAll`` does not.
- Errors are the list ``[{"message", "errorCode"}]``: 401
  ``INVALID_SESSION_ID``, 400 ``INVALID_FIELD`` (the query echoed, then
  ``No such column 'X' on entity 'Y'...``), 400 ``MALFORMED_QUERY``, 403
  ``REQUEST_LIMIT_EXCEEDED``, 404 ``NOT_FOUND``.
- Every API answer carries ``Sforce-Limit-Info: api-usage=USED/LIMIT``.
- ``POST /services/oauth2/token`` with ``grant_type=refresh_token`` answers
  ``access_token`` and ``instance_url`` (or OAuth's ``invalid_grant``).

The fake understands the SOQL headway sends: a field list (relationship
paths included), ``FROM``, conditions joined by ``AND`` of the form
``Field OP literal`` (in parentheses or not), ``ORDER BY`` and ``LIMIT``.
Anything else in a condition is a ``MALFORMED_QUERY``; a field the object
lacks (selected or in a condition), or a value of the wrong type for its
field (``Amount = 'big'``), is an ``INVALID_FIELD``, as in Salesforce.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from headway_sdk import parse_timestamp
from headway_sdk.testing import FakeApi, FakeResponse, RecordedRequest

VERSION = "62.0"
GOOD_TOKEN = "00DFAKE0000000001!AQ4AQGoodAccessTokenForTests"
BAD_TOKEN = "00DFAKE0000000001!AQ4AQRefusedAccessToken0000"
CLIENT_ID = "3MVG9fakeConsumerKeyForHeadwayTests"
CLIENT_SECRET = "fake-consumer-secret-0123456789"
REFRESH_TOKEN = "5Aep861fakeRefreshTokenForHeadwayTests"
T0 = datetime(2026, 1, 1, tzinfo=UTC)

_LIMIT_INFO = "Sforce-Limit-Info"
_JSON = "application/json;charset=UTF-8"
_RELATED_TYPE = {"Owner": "User", "Account": "Account", "What": "Name", "Who": "Name"}
_RELATED_FIELDS = {
    "Owner": {"Id", "Name", "Email"},
    "Account": {"Id", "Name", "Industry"},
}
_CONDITION = re.compile(r"^([A-Za-z_][\w.]*)\s*(!=|>=|<=|=|>|<)\s*(.+)$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<object>\w+)"
    r"(?: WHERE (?P<where>.+?))?"
    r"(?: ORDER BY (?P<order>.+?))?"
    r"(?: LIMIT (?P<limit>\d+))?$",
    re.S,
)
_MORE = re.compile(r"/services/data/v(\d+\.\d)/(query|queryAll)/(01g\w+)-(\d+)")
_QUERY = re.compile(r"/services/data/v(\d+\.\d)/(query|queryAll)")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T")
# Salesforce's words for a condition value of the wrong type: the type, and
# whether the value must be quoted.
_WRONG_VALUE = (
    "value of filter criterion for field '{field}' must be of type {kind} and "
    "{quoted} be enclosed in quotes"
)
_NO_SUCH_COLUMN = (
    "No such column '{field}' on entity '{entity}'. If you are attempting to use a "
    "custom field, be sure to append the '__c' after the custom field name. Please "
    "reference your WSDL or the describe call for the appropriate names."
)


def stamp(when: datetime) -> str:
    """A time as Salesforce writes it: ``2024-01-05T10:11:12.000+0000``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{when.microsecond // 1000:03d}+0000"
    )


def sf_id(prefix: str, number: int) -> str:
    """An 18-character record id with the object's key prefix."""
    return f"{prefix}{number:012d}AAA"


def owner(number: int) -> dict[str, Any]:
    """One of a few sales users, as the ``Owner`` relationship holds it."""
    names = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra")
    name = names[number % len(names)]
    first = name.split()[0].lower()
    return {
        "Id": sf_id("005", number % len(names)),
        "Name": name,
        "Email": f"{first}@acme.com",
    }


def _common(prefix: str, number: int, modstamp: datetime) -> dict[str, Any]:
    person = owner(number)
    created = modstamp - timedelta(days=20)
    return {
        "Id": sf_id(prefix, number),
        "OwnerId": person["Id"],
        "Owner": person,
        "CreatedDate": stamp(created),
        "LastModifiedDate": stamp(modstamp),
        "SystemModstamp": stamp(modstamp),
        "IsDeleted": False,
    }


def opportunity(number: int, modstamp: datetime, **changes: Any) -> dict[str, Any]:
    """An opportunity record: every third won, every third lost, the rest open."""
    outcome = ("won", "lost", "open")[number % 3]
    account = f"Account {number % 7}"
    record = {
        **_common("006", number, modstamp),
        "Name": f"{account} - deal {number}",
        "StageName": {"won": "Closed Won", "lost": "Closed Lost"}.get(
            outcome, "Prospecting"
        ),
        "Amount": float(1000 * (number % 50 + 1)),
        "IsClosed": outcome != "open",
        "IsWon": outcome == "won",
        "Type": "New Business" if number % 2 else "Existing Business",
        "LeadSource": "Web",
        "CloseDate": modstamp.date().isoformat(),
        "Probability": {"won": 100.0, "lost": 0.0}.get(outcome, 10.0),
        "ForecastCategory": {"won": "Closed", "lost": "Omitted"}.get(
            outcome, "Pipeline"
        ),
        "AccountId": sf_id("001", number % 7),
        "Account": {"Id": sf_id("001", number % 7), "Name": account},
    }
    record.update(changes)
    return record


def case(number: int, modstamp: datetime, **changes: Any) -> dict[str, Any]:
    """A case record; even numbers are closed, six hours after creation."""
    record = _common("500", number, modstamp)
    created = parse_timestamp(record["CreatedDate"])
    closed = number % 2 == 0
    record.update(
        {
            "CaseNumber": f"{1000 + number:08d}",
            "Subject": f"Case subject {number}",
            "Status": "Closed" if closed else "Working",
            "IsClosed": closed,
            "ClosedDate": stamp(created + timedelta(hours=6)) if closed else None,
            "Priority": ("High", "Medium", "Low")[number % 3],
            "Origin": ("Phone", "Email", "Web")[number % 3],
            "Type": "Problem",
            "Reason": None,
            "IsEscalated": False,
            "AccountId": sf_id("001", number % 7),
            "Account": {
                "Id": sf_id("001", number % 7),
                "Name": f"Account {number % 7}",
            },
        }
    )
    record.update(changes)
    return record


def task(number: int, modstamp: datetime, **changes: Any) -> dict[str, Any]:
    """A task: a logged call, an e-mail, or a to-do, by number."""
    subtype = ("Call", "Email", "Task")[number % 3]
    record = _common("00T", number, modstamp)
    record.update(
        {
            "Subject": f"{subtype} {number}",
            "Status": "Completed",
            "IsClosed": True,
            "Priority": "Normal",
            "Type": subtype if subtype != "Task" else None,
            "TaskSubtype": subtype,
            "CallDurationInSeconds": 900 if subtype == "Call" else None,
            "CallType": "Outbound" if subtype == "Call" else None,
            "ActivityDate": modstamp.date().isoformat(),
            "CompletedDateTime": stamp(modstamp),
            "IsRecurrence": False,
            "WhatId": sf_id("006", number),
            "WhoId": None,
            "AccountId": sf_id("001", number % 7),
            "Account": {
                "Id": sf_id("001", number % 7),
                "Name": f"Account {number % 7}",
            },
        }
    )
    record.update(changes)
    return record


def event(number: int, modstamp: datetime, **changes: Any) -> dict[str, Any]:
    """A one-hour meeting that starts at its last change."""
    record = _common("00U", number, modstamp)
    record.update(
        {
            "Subject": f"Meeting {number}",
            "Type": "Meeting",
            "EventSubtype": "Event",
            "StartDateTime": stamp(modstamp),
            "EndDateTime": stamp(modstamp + timedelta(hours=1)),
            "DurationInMinutes": 60,
            "IsAllDayEvent": False,
            "ActivityDate": modstamp.date().isoformat(),
            "Location": "Zoom",
            "ShowAs": "Busy",
            "IsChild": False,
            "IsRecurrence": False,
            "WhatId": sf_id("006", number),
            "WhoId": None,
            "AccountId": sf_id("001", number % 7),
            "Account": {
                "Id": sf_id("001", number % 7),
                "Name": f"Account {number % 7}",
            },
        }
    )
    record.update(changes)
    return record


MAKERS = {"Opportunity": opportunity, "Case": case, "Task": task, "Event": event}


@attrs.define
class Org:
    """A Salesforce org's records, credentials and API usage.

    :param records: object name to record id to record (as stored, with
        ``IsDeleted``; relationships as nested dicts).
    :param custom_fields: extra field names each object has in this org.
    """

    records: dict[str, dict[str, dict[str, Any]]] = attrs.field(
        factory=lambda: {name: {} for name in MAKERS}
    )
    custom_fields: dict[str, set[str]] = attrs.field(factory=dict)
    #: Fields the integration user cannot read (field-level security).
    hidden: dict[str, set[str]] = attrs.field(factory=dict)
    #: Whether tokens the token endpoint issues are accepted afterwards.
    honour_issued: bool = True
    access_tokens: set[str] = attrs.field(factory=lambda: {GOOD_TOKEN})
    refresh_token: str = REFRESH_TOKEN
    used: int = 0
    limit: int = 15_000
    instance_url: str | None = None
    #: Every query received: (resource, SOQL).
    queries: list[tuple[str, str]] = attrs.field(factory=list)
    #: Every access token the token endpoint issued.
    issued: list[str] = attrs.field(factory=list)
    _locators: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)
    _numbers: Any = attrs.field(factory=lambda: itertools.count(1))

    def add(self, sobject: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Store a record (replacing one with its id)."""
        stored = dict(record)
        self.records[sobject][stored["Id"]] = stored
        return stored

    def fill(
        self, sobject: str, count: int, *, every: timedelta, first: int = 1
    ) -> None:
        """``count`` records of ``sobject`` changed ``every`` apart from 2026-01-01."""
        maker = MAKERS[sobject]
        for number in range(first, first + count):
            self.add(sobject, maker(number, T0 + every * number))

    def touch(self, sobject: str, ident: str, now: datetime, **changes: Any) -> None:
        """Change a record at ``now``."""
        record = self.records[sobject][ident]
        record.update(changes)
        record["LastModifiedDate"] = record["SystemModstamp"] = stamp(now)

    def delete(self, sobject: str, ident: str, now: datetime) -> None:
        """Move a record to the recycle bin at ``now``."""
        self.touch(sobject, ident, now, IsDeleted=True)

    def fields_of(self, sobject: str) -> set[str]:
        """The field names (top level) the object has in this org."""
        names = {"Id", "IsDeleted"}
        names |= {key for record in self.records[sobject].values() for key in record}
        names |= set(MAKERS[sobject](0, T0))
        names |= self.custom_fields.get(sobject, set())
        return names - self.hidden.get(sobject, set())

    def kind_of(self, sobject: str, field: str) -> str | None:
        """A top-level field's SOQL type, as the sample records show it
        (``None`` when no record holds a value for it)."""
        samples = [MAKERS[sobject](number, T0) for number in (0, 1)]
        values = [record.get(field) for record in samples]
        values += [record.get(field) for record in self.records[sobject].values()]
        value = next((v for v in values if v is not None), None)
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int | float):
            return "double"
        if not isinstance(value, str):
            return None
        if _DATE.match(value):
            return "date"
        return "dateTime" if _STAMP.match(value) else "string"

    # ------------------------------------------------------------ queries

    def run(self, resource: str, soql: str, batch: int) -> tuple[int, Any]:
        """Answer a query: ``(status, body)``."""
        self.queries.append((resource, soql))
        match = _SOQL.match(soql.strip())
        if match is None:
            return 400, _error("MALFORMED_QUERY", f"\n{soql}\n^\nunexpected token")
        sobject = match["object"]
        if sobject not in self.records:
            return 400, _error(
                "INVALID_TYPE",
                f"\n{soql[:60]}\n^\nERROR at Row:1:Column:1\nsObject type '{sobject}' "
                "is not supported. If you are attempting to use a custom object, be "
                "sure to append the '__c' after the entity name.",
            )
        names = [name.strip() for name in match["fields"].split(",")]
        known = self.fields_of(sobject)
        for name in names:
            head, _, rest = name.partition(".")
            entity = sobject
            field = head
            if rest:
                entity, field = _RELATED_TYPE.get(head, head), rest
                if head not in _RELATED_FIELDS:
                    return 400, _error(
                        "INVALID_FIELD",
                        f"\n{name}\n^\nERROR at Row:1:Column:8\nDidn't understand "
                        f"relationship '{head}' in field path. If you are attempting "
                        "to use a custom relationship, be sure to append the '__r'",
                    )
                if rest in _RELATED_FIELDS[head]:
                    continue
            elif head in known:
                continue
            column = soql.find(name) + 1
            return 400, _error(
                "INVALID_FIELD",
                f"\n{soql[max(0, column - 40) : column + 40]}\n{' ' * 39}^\n"
                f"ERROR at Row:1:Column:{column}\n"
                + _NO_SUCH_COLUMN.format(field=field, entity=entity),
            )
        try:
            conditions = _conditions(match["where"] or "")
        except ValueError as error:
            return 400, _error(
                "MALFORMED_QUERY",
                f"\n{match['where']}\n^\nERROR at Row:1:Column:1\n{error}",
            )
        for field, _, _ in conditions:
            head, _, rest = field.partition(".")
            if rest and rest in _RELATED_FIELDS.get(head, ()):
                continue
            if not rest and head in known:
                continue
            column = soql.find(field) + 1
            return 400, _error(
                "INVALID_FIELD",
                f"\n{soql[max(0, column - 40) : column + 40]}\n{' ' * 39}^\n"
                f"ERROR at Row:1:Column:{column}\n"
                + _NO_SUCH_COLUMN.format(
                    field=rest or head,
                    entity=_RELATED_TYPE.get(head, head) if rest else sobject,
                ),
            )
        for field, wanted, _ in conditions:
            kind = self.kind_of(sobject, field)
            if wanted is None or kind is None or _fits(wanted, kind):
                continue
            column = soql.find(field) + 1
            return 400, _error(
                "INVALID_FIELD",
                f"\n{soql[max(0, column - 40) : column + 40]}\n{' ' * 39}^\n"
                f"ERROR at Row:1:Column:{column}\n"
                + _WRONG_VALUE.format(
                    field=field,
                    kind=kind,
                    quoted="should" if kind == "string" else "should not",
                ),
            )
        tests = [test for _, _, test in conditions]
        rows = [
            record
            for record in self.records[sobject].values()
            if (resource == "queryAll" or not record.get("IsDeleted"))
            and all(test(record) for test in tests)
        ]
        if match["order"]:
            rows.sort(key=lambda r: (r["SystemModstamp"], r["Id"]))
        if match["limit"]:
            rows = rows[: int(match["limit"])]
        shaped = [_project(sobject, record, names) for record in rows]
        locator = f"01g{next(self._numbers):015d}"
        self._locators[locator] = shaped
        return 200, self.page(locator, 0, batch)

    def page(self, locator: str, offset: int, batch: int) -> Any:
        """One batch of a query's results (``/query`` or ``/queryAll``: the
        locator keeps what the first request chose, deleted records or not)."""
        rows = self._locators[locator]
        chunk = rows[offset : offset + batch]
        done = offset + batch >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": chunk}
        if not done:
            # Salesforce names the Query More Results resource even for a
            # queryAll listing: the locator, not the path, carries the query.
            body["nextRecordsUrl"] = (
                f"/services/data/v{VERSION}/query/{locator}-{offset + batch}"
            )
        return body

    def has_locator(self, locator: str) -> bool:
        """Whether a query locator is still known."""
        return locator in self._locators


def _error(code: str, message: str) -> list[dict[str, str]]:
    return [{"message": message, "errorCode": code}]


def _project(sobject: str, record: Mapping[str, Any], names: Iterable[str]) -> Any:
    shaped: dict[str, Any] = {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/v{VERSION}/sobjects/{sobject}/{record['Id']}",
        }
    }
    for name in names:
        head, _, rest = name.partition(".")
        if not rest:
            shaped[head] = record.get(head)
            continue
        related = record.get(head)
        if related is None:
            shaped[head] = None
            continue
        target = shaped.get(head)
        if target is None:
            target = shaped[head] = {
                "attributes": {
                    "type": _RELATED_TYPE.get(head, head),
                    "url": f"/services/data/v{VERSION}/sobjects/"
                    f"{_RELATED_TYPE.get(head, head)}/{related.get('Id')}",
                }
            }
        target[rest] = related.get(rest)
    return shaped


def _split_and(text: str) -> list[str]:
    parts, depth, quoted, current = [], 0, False, ""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unexpected token: ')'")
        if not quoted and depth == 0 and text[index : index + 5].upper() == " AND ":
            parts.append(current)
            current = ""
            index += 5
            continue
        current += char
        index += 1
    if depth or quoted:
        raise ValueError("unexpected end of query")
    parts.append(current)
    return [part.strip() for part in parts]


def _conditions(where: str) -> list[tuple[str, Any, Any]]:
    """Each condition's field, value and test (a field the object lacks, or
    a value of the wrong type, is the caller's to refuse, as Salesforce
    refuses them with ``INVALID_FIELD``)."""
    tests: list[tuple[str, Any, Any]] = []
    if not where.strip():
        return tests
    for part in _split_and(where):
        while part.startswith("(") and part.endswith(")"):
            part = part[1:-1].strip()
        if " AND " in part.upper():
            tests += _conditions(part)
            continue
        match = _CONDITION.match(part)
        if match is None:
            raise ValueError(f"unexpected token: '{part.split()[-1] if part else ''}'")
        field, op, literal = match[1], match[2], match[3].strip()
        wanted = _literal(literal)
        tests.append((field, wanted, _test(field, op, wanted)))
    return tests


def _fits(value: Any, kind: str) -> bool:
    """Whether a condition's value is of a type the field's type takes."""
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "double":
        return isinstance(value, float) and not isinstance(value, bool)
    if kind == "dateTime":
        return isinstance(value, datetime)
    # A date literal is not understood by this fake (a MALFORMED_QUERY), so
    # only a quoted value is refused here.
    if kind == "date":
        return not isinstance(value, str)
    return isinstance(value, str)


def _literal(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1]
    if _DATETIME.match(text):
        return parse_timestamp(text)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"unexpected token: '{text}'") from None


def _test(field: str, op: str, wanted: Any) -> Any:
    def value_of(record: Mapping[str, Any]) -> Any:
        value: Any = record
        for part in field.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(wanted, datetime) and isinstance(value, str):
            return parse_timestamp(value)
        return value

    def test(record: Mapping[str, Any]) -> bool:
        value = value_of(record)
        if op == "=":
            return value == wanted
        if op == "!=":
            return value != wanted
        if value is None or wanted is None:
            return False
        return {
            ">": value > wanted,
            "<": value < wanted,
            ">=": value >= wanted,
            "<=": value <= wanted,
        }[op]

    return test


# ---------------------------------------------------------------- serving


def serve(fake: FakeApi, org: Org) -> None:
    """Answer the REST API and the token endpoint from ``org``."""
    org.instance_url = org.instance_url or fake.url

    def limited(status: int, body: Any) -> FakeResponse:
        return FakeResponse(
            status,
            json=body,
            headers={
                _LIMIT_INFO: f"api-usage={org.used}/{org.limit}",
                "Content-Type": _JSON,
            },
        )

    def api(request: RecordedRequest, answer: Any) -> FakeResponse:
        header = request.headers.get("authorization", "")
        if header.removeprefix("Bearer ") not in org.access_tokens:
            return FakeResponse(
                401,
                json=_error("INVALID_SESSION_ID", "Session expired or invalid"),
                headers={"Content-Type": _JSON},
            )
        if org.used >= org.limit:
            return limited(
                403, _error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            )
        org.used += 1
        status, body = answer()
        return limited(status, body)

    def batch_of(request: RecordedRequest) -> int:
        options = request.headers.get("sforce-query-options", "")
        match = re.search(r"batchSize=(\d+)", options)
        size = int(match[1]) if match else 2000
        return size if 200 <= size <= 2000 else 2000

    def query(request: RecordedRequest) -> FakeResponse:
        version, resource = _QUERY.fullmatch(request.path).groups()  # type: ignore[union-attr]
        if version != VERSION:
            return _not_found(request)
        return api(
            request,
            lambda: org.run(resource, request.query.get("q", ""), batch_of(request)),
        )

    def more(request: RecordedRequest) -> FakeResponse:
        version, _, locator, offset = _MORE.fullmatch(request.path).groups()  # type: ignore[union-attr]
        if version != VERSION:
            return _not_found(request)
        if not org.has_locator(locator):
            return api(
                request,
                lambda: (
                    400,
                    _error("INVALID_QUERY_LOCATOR", "invalid query locator"),
                ),
            )
        return api(
            request,
            lambda: (200, org.page(locator, int(offset), batch_of(request))),
        )

    def versions(request: RecordedRequest) -> Any:
        return [
            {"label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"},
            {"label": "Summer '24", "url": "/services/data/v61.0", "version": "61.0"},
            {
                "label": "Winter '25",
                "url": f"/services/data/v{VERSION}",
                "version": VERSION,
            },
        ]

    def limits(request: RecordedRequest) -> FakeResponse:
        return api(
            request,
            lambda: (
                200,
                {
                    "DailyApiRequests": {
                        "Max": org.limit,
                        "Remaining": org.limit - org.used,
                    }
                },
            ),
        )

    def token(request: RecordedRequest) -> FakeResponse:
        form = request.form()
        if (
            form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return FakeResponse(
                400,
                json={
                    "error": "invalid_client_id",
                    "error_description": "client identifier invalid",
                },
            )
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != org.refresh_token
        ):
            return FakeResponse(
                400,
                json={
                    "error": "invalid_grant",
                    "error_description": "expired access/refresh token",
                },
            )
        access = f"00DFAKE0000000001!AQ4AQIssued{len(org.issued) + 1:04d}AccessToken"
        org.issued.append(access)
        if org.honour_issued:
            org.access_tokens.add(access)
        return FakeResponse(
            json={
                "access_token": access,
                "instance_url": org.instance_url,
                "id": "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
                "token_type": "Bearer",
                "issued_at": "1278448832702",
                "signature": "0CmxinZir53Yex7nE0TD+zMpvIWYGb/bdJh6XfOH6EQ=",
                "scope": "api refresh_token",
            }
        )

    fake.handle("GET", _MORE, more)
    fake.handle("GET", _QUERY, query)
    fake.handle("GET", "/services/data/", versions)
    fake.handle("GET", re.compile(r"/services/data/v[\d.]+/limits"), limits)
    fake.handle("POST", "/services/oauth2/token", token)


def _not_found(request: RecordedRequest) -> FakeResponse:
    return FakeResponse(
        404,
        json=_error("NOT_FOUND", "The requested resource does not exist"),
        headers={"Content-Type": _JSON},
    )
