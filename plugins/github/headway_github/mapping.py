"""What becomes of a GitHub issue or pull request: one :class:`WorkItem`.

``GET /repos/{owner}/{repo}/issues`` lists both; a pull request carries a
``pull_request`` object whose ``merged_at`` says whether it was merged.
Repositories with issues turned off list their pull requests only through
``GET /repos/{owner}/{repo}/pulls``, mapped alike (:meth:`IssueMapper.pull`).
The mapping is a pure function of the raw record and the settings, so the
same answer always stores the same row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from headway_sdk import RecordError, WorkItem, list_field, parse_timestamp

from .config import GitHubConfig, lowered

#: Issues closed with these reasons did not get done.
CANCELLED_REASONS = frozenset({"not_planned", "duplicate"})

# Raw fields the mapping reads itself, or leaves out on purpose: the body
# (free text, often long, sometimes private) and every API or web URL.
_MAPPED = frozenset(
    {
        "id",
        "title",
        "state",
        "created_at",
        "updated_at",
        "closed_at",
        "body",
        "user",
        "assignee",
        "assignees",
        "labels",
        "milestone",
        "pull_request",
        "reactions",
        "closed_by",
    }
)
_SCALARS = (str, int, float, bool)
# Fields of a /pulls object left out of a pull request's item: the head and
# base branches (each with a whole repository object) and the link list.
_PULL_ONLY = frozenset({"head", "base", "_links"})


def pull_item_id(pull_id: Any) -> str:
    """The item id of a pull request read from ``/pulls``: ``pull:{id}``.

    ``/pulls`` gives the pull request's own id, not the id of its issue that
    ``/issues`` gives (and items of ``/issues`` use), so the two are kept
    apart by the prefix and can never be taken for each other.
    """
    if isinstance(pull_id, bool) or not isinstance(pull_id, int):
        raise RecordError(f"id must be an integer, got {pull_id!r}")
    return f"pull:{pull_id}"


class IssueMapper:
    """Turns raw issues of one source into work items.

    :param config: the source's settings (teams, hours).
    :param source: the source's name, the prefix of people's identities.
    """

    def __init__(self, config: GitHubConfig, source: str):
        self.config = config
        self.source = source
        self.teams = lowered(config.teams)

    def item(self, raw: Mapping[str, Any], partition: str) -> WorkItem:
        """The work item of one raw issue or pull request.

        :param partition: the repository listed, as configured. It names the
            item's ``project`` and ``key`` even when GitHub now calls the
            repository otherwise (renamed or transferred), so the rules and
            ``explain`` references written for that name keep working, for
            every item alike, until the configured name changes; GitHub's
            current name is kept in the ``repository`` attribute.
        :raises RecordError: the record lacks what an item needs, or holds
            a null or another value where ``labels`` or ``assignees``
            should be a list.
        :raises KeyError: a required field is missing.
        """
        if not isinstance(raw, Mapping):
            raise RecordError(f"expected an issue object, got {type(raw).__name__}")
        pull = raw.get("pull_request")
        is_pull = isinstance(pull, Mapping)
        current = repository_of(raw) or partition
        # The same name in another case is GitHub's spelling, which wins.
        repository = current if current.lower() == partition.lower() else partition
        number = raw["number"]
        if isinstance(number, bool) or not isinstance(number, int):
            raise RecordError(f"number must be an integer, got {number!r}")
        title = raw["title"]
        if not isinstance(title, str):
            raise RecordError(f"title must be text, got {type(title).__name__}")

        updated = parse_timestamp(raw["updated_at"])
        if updated is None:
            raise RecordError("updated_at is empty")
        created = parse_timestamp(raw.get("created_at"))
        closed = parse_timestamp(raw.get("closed_at"))
        merged = parse_timestamp(pull.get("merged_at")) if is_pull else None
        state, status = self._state(raw, is_pull, merged is not None)

        return WorkItem(
            id=str(raw["id"]),
            key=f"{repository}#{number}",
            kind="pull_request" if is_pull else "issue",
            title=title,
            url=raw.get("html_url"),
            project=repository,
            team=self._team(partition, current),
            people=self._people(raw),
            status=status,
            state=state,
            created_at=created,
            updated_at=updated,
            closed_at=closed,
            occurred_at=merged or closed or updated,
            effort=self._effort(is_pull, state),
            labels=_labels(list_field(raw, "labels")),
            attributes=self._attributes(raw, current, pull, merged),
        )

    def pull(self, raw: Mapping[str, Any], partition: str) -> WorkItem:
        """The work item of one raw pull request of ``/pulls``.

        Mapped as the same pull request listed by ``/issues`` would be, but
        for its id (:func:`pull_item_id`): ``merged_at``, at the top level
        here, takes the place of ``pull_request.merged_at``.

        :raises RecordError: as :meth:`item`, or the id is not an integer.
        """
        if not isinstance(raw, Mapping):
            raise RecordError(f"expected a pull object, got {type(raw).__name__}")
        issue = {
            key: value
            for key, value in raw.items()
            if key not in _PULL_ONLY and key != "merged_at"
        }
        issue["id"] = pull_item_id(raw.get("id"))
        issue["pull_request"] = {"merged_at": raw.get("merged_at")}
        return self.item(issue, partition)

    # ------------------------------------------------------------ fields

    def _state(
        self, raw: Mapping[str, Any], is_pull: bool, merged: bool
    ) -> tuple[str, str]:
        state = raw["state"]
        if state == "open":
            return "open", "draft" if is_pull and raw.get("draft") else "open"
        if state != "closed":
            raise RecordError(f"state must be open or closed, got {state!r}")
        if is_pull:
            return ("done", "merged") if merged else ("cancelled", "closed")
        # A null reason is how issues closed before GitHub had reasons look,
        # and "completed" is still what a plain close means.
        if raw.get("state_reason") in CANCELLED_REASONS:
            return "cancelled", "closed"
        return "done", "closed"

    def _team(self, partition: str, repository: str) -> str | None:
        return self.teams.get(partition.lower()) or self.teams.get(repository.lower())

    def _people(self, raw: Mapping[str, Any]) -> tuple[str, ...]:
        logins: list[str] = []
        for user in (raw.get("user"), *list_field(raw, "assignees")):
            login = user.get("login") if isinstance(user, Mapping) else None
            if isinstance(login, str) and login and login not in logins:
                logins.append(login)
        return tuple(f"{self.source}:{login}" for login in logins)

    def _effort(self, is_pull: bool, state: str) -> float:
        if state == "cancelled":
            return 0.0
        if is_pull:
            return float(self.config.hours_per_pull_request)
        return float(self.config.hours_per_issue)

    def _attributes(
        self,
        raw: Mapping[str, Any],
        repository: str,
        pull: Any,
        merged: datetime | None,
    ) -> dict[str, Any]:
        # Every plain field GitHub sends is kept (number, node_id, comments,
        # state_reason, draft, author_association, ... and fields added
        # later), and every other field not read here goes to `extra` as it
        # came, so nothing is dropped without a decision; nulls say nothing.
        attributes: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _MAPPED or key == "url" or key.endswith("_url") or value is None:
                continue
            if isinstance(value, _SCALARS):
                attributes[key] = value
            else:
                extra[key] = value
        if extra:
            attributes["extra"] = extra
        attributes["repository"] = repository
        user = raw.get("user")
        if isinstance(user, Mapping):
            attributes["author"] = user.get("login")
            attributes["author_type"] = user.get("type")
        milestone = raw.get("milestone")
        if isinstance(milestone, Mapping):
            attributes["milestone"] = milestone.get("title")
        if isinstance(pull, Mapping):
            attributes["merged_at"] = merged
        return attributes


def repository_of(raw: Mapping[str, Any]) -> str | None:
    """``owner/name`` of the repository a raw issue belongs to.

    Read from ``repository_url`` (``https://api.github.com/repos/acme/web``,
    or ``https://HOST/api/v3/repos/acme/web`` on Enterprise), else from
    ``html_url`` (``https://github.com/acme/web/issues/7``).
    """
    api = raw.get("repository_url")
    if isinstance(api, str) and "/repos/" in api:
        parts = urlsplit(api).path.split("/repos/", 1)[1].strip("/").split("/")
        if len(parts) >= 2 and all(parts[:2]):
            return f"{parts[0]}/{parts[1]}"
    web = raw.get("html_url")
    if isinstance(web, str):
        parts = urlsplit(web).path.strip("/").split("/")
        if len(parts) >= 4 and parts[2] in ("issues", "pull"):
            return f"{parts[0]}/{parts[1]}"
    return None


def _labels(labels: list[Any]) -> tuple[str, ...]:
    names = []
    for label in labels:
        # The API gives label objects; a few older answers give bare names.
        name = label.get("name") if isinstance(label, Mapping) else label
        if isinstance(name, str) and name:
            names.append(name)
    return tuple(names)
