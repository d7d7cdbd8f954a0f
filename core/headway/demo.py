"""The built-in demo connector: a quarter of work at a fictional company.

Northwind Robotics has four teams (platform, web, sales, customer success).
Each ``[sources.NAME]`` table with ``plugin = "demo"`` plays one of its tools
(``system = "jira" | "github" | "calendar" | "crm" | "metrics"``) and yields
the same items for the same ``seed``: tickets under epics, pull requests,
meetings, deals, cases, calls, and weekly metrics. Some of the work serves no
objective of the demo scorecard, as in any real company.

The demo is registered through the ``register_connectors`` hook like any
plugin's connector.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import attrs

from .connectors import Page, SourceContext, State
from .errors import ConfigError, Problem
from .model import MetricPoint, WorkItem
from .plugins import hookimpl

SYSTEMS = ("jira", "github", "calendar", "crm", "metrics")
DOMAIN = "northwind.example"
QUARTER_START = date(2026, 7, 1)
QUARTER_END = date(2026, 9, 30)
_DAYS = (QUARTER_END - QUARTER_START).days + 1
_OPTIONS = ("system", "seed", "scale", "page_size")
#: The largest ``scale``: the demo is generated in memory, and 100 times its
#: counts (about half a million items) is plenty for trying headway at size.
MAX_SCALE = 100

# (team, people). The first person of each team is its lead.
TEAMS: dict[str, tuple[str, ...]] = {
    "platform": (
        "alice.chen",
        "bob.okafor",
        "carla.mendes",
        "dev.patel",
        "erik.larsen",
        "fatima.zahra",
    ),
    "web": (
        "gina.rossi",
        "hiro.tanaka",
        "ines.duarte",
        "jonas.weber",
        "kemi.adeyemi",
        "liam.obrien",
    ),
    "sales": ("maya.singh", "noah.kim", "olivia.brown", "pablo.ruiz", "quinn.taylor"),
    "success": ("rosa.alvarez", "sam.cohen", "tara.nguyen", "uma.iyer", "victor.hugo"),
}
TEAM_TITLES = {
    "platform": "Platform",
    "web": "Web",
    "sales": "Sales",
    "success": "Customer success",
}


def email(person: str) -> str:
    """The demo company's e-mail address of a person."""
    return f"{person}@{DOMAIN}"


def github_login(person: str) -> str:
    """A person's GitHub identity, as the GitHub connector reports it."""
    return f"github:{person.split('.')[0]}"


def jira_account(person: str) -> str:
    """A person's Jira account id identity (Cloud hides most e-mails)."""
    digest = hashlib.sha1(person.encode()).hexdigest()[:24]
    return f"jira:{digest}"


@attrs.frozen
class DemoConnector:
    """Yields one system's share of the demo company's quarter."""

    system: str
    seed: int = 7
    scale: float = 1.0
    page_size: int = 250

    def check(self) -> None:
        """Always reachable: the data is generated."""

    def read(self, state: State) -> Iterator[Page]:
        """Yield the generated records in pages, resumable by offset."""
        saved = state.get(self.system) or {}
        if saved.get("complete") and saved.get("seed") == self.seed:
            return
        offset = int(saved.get("offset", 0)) if saved.get("seed") == self.seed else 0
        records = generate(self.system, self.seed, self.scale)
        for start in range(offset, len(records), self.page_size):
            batch = records[start : start + self.page_size]
            end = start + len(batch)
            cursor: dict[str, Any] = {"seed": self.seed, "offset": end}
            if end >= len(records):
                cursor["complete"] = True
            yield Page(batch, stream=self.system, state=cursor)
        if offset >= len(records):
            done = {"seed": self.seed, "offset": offset, "complete": True}
            yield Page((), stream=self.system, state=done)


def build(context: SourceContext) -> DemoConnector:
    """The demo connector of a source table, validated."""
    options = context.options
    path = f"sources.{context.name}"
    problems = [
        Problem(f"{path}.{key}", "unknown key for the demo connector")
        for key in options
        if key not in _OPTIONS
    ]
    system = options.get("system", "jira")
    if system not in SYSTEMS:
        problems.append(
            Problem(
                f"{path}.system", f"must be one of {', '.join(SYSTEMS)}, got {system!r}"
            )
        )
    seed = options.get("seed", 7)
    if not isinstance(seed, int) or isinstance(seed, bool):
        problems.append(Problem(f"{path}.seed", "must be an integer"))
    scale = options.get("scale", 1.0)
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not 0 < scale <= MAX_SCALE
    ):
        problems.append(
            Problem(
                f"{path}.scale",
                f"must be a number greater than 0 and at most {MAX_SCALE} (a "
                "multiplier of the demo's item counts)",
            )
        )
    page_size = options.get("page_size", 250)
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        problems.append(Problem(f"{path}.page_size", "must be a positive integer"))
    if problems:
        raise ConfigError(problems)
    return DemoConnector(system, seed, float(scale), page_size)


@hookimpl
def register_connectors(register: Any) -> None:
    """Register the ``demo`` connector."""
    register("demo", build, description="generated demo data (headway demo)")


# ---------------------------------------------------------------- generation


def generate(system: str, seed: int = 7, scale: float = 1.0) -> list[Any]:
    """Every record of one system, the same for the same seed and scale."""
    rng = random.Random(f"{system}:{seed}")
    return {
        "jira": _jira,
        "github": _github,
        "calendar": _calendar,
        "crm": _crm,
        "metrics": _metrics,
    }[system](rng, scale)


def _at(day: float, hour: float = 10.0) -> datetime:
    """A time ``day`` days into the quarter, at ``hour`` UTC."""
    base = datetime(
        QUARTER_START.year, QUARTER_START.month, QUARTER_START.day, tzinfo=UTC
    )
    return base + timedelta(days=day, hours=hour)


def _workday(rng: random.Random, low: float = 0.0, high: float = 1.0) -> float:
    """A random weekday within a share ``[low, high)`` of the quarter."""
    while True:
        day = int(rng.uniform(low, high) * _DAYS)
        if (QUARTER_START + timedelta(days=day)).weekday() < 5:
            return float(min(day, _DAYS - 1))


def _ramp(rng: random.Random) -> float:
    """A share of the quarter weighted towards its end (growing effort)."""
    return max(rng.random(), rng.random())


def _count(base: int, scale: float) -> int:
    return max(1, round(base * scale))


# Epics: (project, title, labels, share of the project's stories).
_EPICS = (
    ("PLAT", "Release pipeline automation", ("ci", "release"), 0.16),
    ("PLAT", "Zero-downtime deploys", ("release",), 0.10),
    ("PLAT", "Observability and alerting", ("reliability",), 0.12),
    ("PLAT", "Database failover", ("reliability", "sre"), 0.12),
    ("PLAT", "Cloud cost reduction", ("finops",), 0.10),
    ("PLAT", "Internal tooling migration", ("tooling",), 0.14),
    ("PLAT", "Usage analytics pipeline", ("analytics",), 0.08),
    ("WEB", "Self-serve onboarding wizard", ("onboarding",), 0.22),
    ("WEB", "Self-serve pricing page", ("self-serve-pricing",), 0.12),
    ("WEB", "Customer health dashboard", ("dashboard",), 0.12),
    ("WEB", "Design system refresh", ("design-system",), 0.16),
    ("WEB", "Legacy reports rewrite", ("reports",), 0.12),
)
_STORY_VERBS = (
    "Add",
    "Fix",
    "Refactor",
    "Document",
    "Test",
    "Harden",
    "Migrate",
    "Speed up",
)
_STORY_NOUNS = {
    "ci": ("build cache", "pipeline step", "artifact upload", "test sharding"),
    "release": ("canary rollout", "release notes", "rollback job", "deploy gate"),
    "reliability": ("alert routing", "SLO dashboard", "health check", "runbook"),
    "sre": ("replica lag alarm", "failover drill", "backup restore"),
    "finops": ("idle node reaper", "storage tiering", "reserved capacity report"),
    "tooling": ("ticket bot", "wiki export", "chat integration", "old CLI"),
    "analytics": ("event schema", "usage export", "warehouse sync"),
    "onboarding": ("signup step", "welcome checklist", "sample project", "invite flow"),
    "self-serve-pricing": ("plan comparison", "checkout form", "coupon support"),
    "dashboard": ("health score card", "account timeline", "usage chart"),
    "design-system": ("button styles", "color tokens", "form inputs", "icon set"),
    "reports": ("CSV export", "legacy PDF report", "report scheduler"),
}
_LOOSE_TICKETS = (
    ("Clean up old feature flags", ("chore",)),
    ("Investigate flaky test", ("tech-debt",)),
    ("Rename internal service", ("chore",)),
    ("Prepare weekly status report", ("reporting",)),
    ("Spike: evaluate new framework", ("spike",)),
    ("Workshop: property-based testing", ("learning",)),
)
_STATUS = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}


def _jira(rng: random.Random, scale: float) -> list[Any]:
    records: list[Any] = []
    number = {"PLAT": 0, "WEB": 0, "CS": 0}
    team_of = {"PLAT": "platform", "WEB": "web", "CS": "success"}

    def next_key(project: str) -> tuple[str, str]:
        number[project] += 1
        ident = str(10_000 + len(records) + 1)
        return ident, f"{project}-{number[project]}"

    def people(team: str) -> tuple[str, ...]:
        assignee, reporter = rng.choice(TEAMS[team]), TEAMS[team][0]
        # Jira Cloud shows e-mails for some accounts only.
        ident = jira_account if rng.random() < 0.6 else email
        return (ident(assignee), ident(reporter))

    stories = {"PLAT": _count(700, scale), "WEB": _count(650, scale)}
    for project, title, labels, share in _EPICS:
        epic_id, epic_key = next_key(project)
        team = team_of[project]
        created = _at(_workday(rng, 0.0, 0.1))
        records.append(
            WorkItem(
                id=epic_id,
                key=epic_key,
                kind="issue",
                title=title,
                url=f"https://northwind.atlassian.example/browse/{epic_key}",
                project=project,
                team=team,
                people=(email(TEAMS[team][0]),),
                status="In Progress",
                state="open",
                created_at=created,
                updated_at=created,
                labels=labels,
                attributes={"issuetype": "Epic"},
            )
        )
        growing = "reliability" in labels
        for _ in range(round(stories[project] * share)):
            ident, key = next_key(project)
            start = _ramp(rng) if growing else rng.random()
            created = _at(
                _workday(rng, start * 0.9, start * 0.9 + 0.1), rng.uniform(8, 17)
            )
            category = rng.choices(("done", "indeterminate", "new"), (0.7, 0.2, 0.1))[0]
            closed = (
                created + timedelta(days=rng.uniform(0.5, 12))
                if category == "done"
                else None
            )
            if closed and closed > _at(_DAYS - 1, 18):
                closed = _at(_DAYS - 1, 18)
            points = rng.choice((1, 2, 3, 5, 8))
            spent = (
                round(points * rng.uniform(1.0, 2.2), 1) if rng.random() < 0.8 else None
            )
            label = labels[0]
            noun = rng.choice(_STORY_NOUNS[label])
            records.append(
                WorkItem(
                    id=ident,
                    key=key,
                    kind="issue",
                    title=f"{rng.choice(_STORY_VERBS)} {noun}",
                    url=f"https://northwind.atlassian.example/browse/{key}",
                    project=project,
                    team=team,
                    people=people(team),
                    status=_STATUS[category],
                    state="done" if category == "done" else "open",
                    created_at=created,
                    updated_at=closed or created + timedelta(days=1),
                    closed_at=closed,
                    occurred_at=closed or created + timedelta(days=1),
                    effort=spent if spent is not None else points * 1.5,
                    points=points,
                    labels=labels if rng.random() < 0.3 else (),
                    parent=epic_id,
                    attributes={
                        "issuetype": rng.choice(("Story", "Task", "Bug")),
                        "time_spent_hours": spent,
                    },
                )
            )
    # Loose tickets, and the wiki upkeep (three times a week) nobody asked
    # for: the demo's busywork beside status syncs and the legacy mobile app.
    chores = [(_workday(rng), ("Update team wiki page", ("docs",))) for _ in range(39)]
    for project in ("PLAT", "WEB"):
        loose = [
            (_workday(rng), rng.choice(_LOOSE_TICKETS))
            for _ in range(_count(30, scale))
        ]
        for day, (title, labels) in loose + chores[: _count(39, scale)]:
            ident, key = next_key(project)
            team = team_of[project]
            created = _at(day, rng.uniform(8, 17))
            records.append(
                WorkItem(
                    id=ident,
                    key=key,
                    kind="issue",
                    title=title,
                    url=f"https://northwind.atlassian.example/browse/{key}",
                    project=project,
                    team=team,
                    people=people(team),
                    status="Done",
                    state="done",
                    created_at=created,
                    updated_at=created + timedelta(hours=6),
                    closed_at=created + timedelta(hours=6),
                    effort=round(rng.uniform(1, 6), 1),
                    labels=labels,
                    attributes={"issuetype": "Task"},
                )
            )
    for _ in range(_count(320, scale)):
        ident, key = next_key("CS")
        created = _at(_workday(rng), rng.uniform(8, 17))
        priority = rng.choices(
            ("Low", "Medium", "High", "Critical"), (0.3, 0.4, 0.2, 0.1)
        )[0]
        closed = created + timedelta(hours=rng.uniform(2, 60))
        records.append(
            WorkItem(
                id=ident,
                key=key,
                kind="issue",
                title=rng.choice(
                    (
                        "Customer cannot log in",
                        "Export fails for account",
                        "Question about invoice",
                        "Integration setup help",
                        "Data looks stale",
                    )
                ),
                url=f"https://northwind.atlassian.example/browse/{key}",
                project="CS",
                team="success",
                people=people("success"),
                status="Done",
                state="done",
                created_at=created,
                updated_at=closed,
                closed_at=closed,
                effort=round(rng.uniform(0.5, 3), 1),
                labels=("support",),
                attributes={"issuetype": "Support", "priority": priority},
            )
        )
    return records


_REPOS = {
    "northwind/platform-infra": (
        "platform",
        (
            "Add {} to deploy pipeline",
            "Speed up CI for {}",
            "Alert on {} errors",
            "Tune {} autoscaling",
            "Release {} with canary",
        ),
    ),
    "northwind/web-app": (
        "web",
        (
            "Onboarding: {} step",
            "Signup wizard {} polish",
            "Pricing page {} copy",
            "Dashboard {} chart",
            "Restyle {} component",
        ),
    ),
    "northwind/mobile-legacy": (
        "web",
        (
            "Keep {} building on old SDK",
            "Patch {} crash on old phones",
            "Backport {} fix",
        ),
    ),
}
_PACKAGES = ("urllib3", "lodash", "pyyaml", "webpack", "boto3")
_PR_NOUNS = (
    "login",
    "billing",
    "search",
    "reports",
    "accounts",
    "settings",
    "api",
    "workers",
)


def _github(rng: random.Random, scale: float) -> list[Any]:
    records: list[Any] = []
    number = 0
    for repo, (team, patterns) in _REPOS.items():
        count = _count(520 if "mobile" not in repo else 180, scale)
        for _ in range(count):
            number += 1
            author = rng.choice(TEAMS[team])
            created = _at(_workday(rng), rng.uniform(7, 19))
            dependabot = rng.random() < 0.12
            if dependabot:
                package = rng.choice(_PACKAGES)
                old, new = rng.randint(0, 9), rng.randint(10, 19)
                title = f"Bump {package} from 1.{old} to 1.{new}"
                login = "github:dependabot"
            else:
                title = rng.choice(patterns).format(rng.choice(_PR_NOUNS))
                login = github_login(author)
            merged = rng.random() < 0.8
            hours = (
                rng.uniform(4, 140) if repo.endswith("infra") else rng.uniform(6, 90)
            )
            closed = (
                created + timedelta(hours=hours)
                if merged or rng.random() < 0.5
                else None
            )
            if closed and closed > _at(_DAYS - 1, 20):
                closed, merged = None, False
            state = "done" if merged and closed else ("cancelled" if closed else "open")
            reviewer = github_login(rng.choice(TEAMS[team]))
            records.append(
                WorkItem(
                    id=str(900_000 + number),
                    key=f"{repo}#{number}",
                    kind="pull_request",
                    title=title,
                    url=f"https://github.example/{repo}/pull/{number}",
                    project=repo,
                    people=(login, reviewer),
                    status="merged"
                    if state == "done"
                    else ("closed" if closed else "open"),
                    state=state,
                    created_at=created,
                    updated_at=closed or created + timedelta(hours=2),
                    closed_at=closed,
                    effort=0.5 if dependabot else 2.0,
                    labels=("dependencies",) if dependabot else (),
                    attributes={
                        "merged_at": closed.isoformat() if merged and closed else None,
                        "draft": False,
                    },
                )
            )
    return records


def _calendar(rng: random.Random, scale: float) -> list[Any]:
    records: list[Any] = []

    def meeting(
        title: str,
        day: float,
        hour: float,
        minutes: int,
        people: list[str],
        series: str | None,
    ) -> None:
        start = _at(day, hour)
        attendees = [email(p) for p in people]
        key = f"{len(records)}|{title}|{start.isoformat()}|{series}"
        ident = hashlib.sha1(key.encode()).hexdigest()[:20]
        records.append(
            WorkItem(
                id=ident,
                kind="meeting",
                title=title,
                url=f"https://calendar.example/event?eid={ident}",
                people=tuple(attendees),
                status="confirmed",
                state="done",
                created_at=start - timedelta(days=7),
                updated_at=start - timedelta(days=1),
                occurred_at=start,
                effort=round(minutes / 60 * len(attendees), 2),
                attributes={
                    "recurring_event_id": series,
                    "attendees": len(attendees),
                    "minutes": minutes,
                },
            )
        )

    everyone = [p for team in TEAMS.values() for p in team]
    for day in range(_DAYS):
        weekday = (QUARTER_START + timedelta(days=day)).weekday()
        if weekday >= 5:
            continue
        week = day // 7
        for team in ("platform", "web"):
            meeting("Daily standup", day, 9.5, 15, list(TEAMS[team]), f"standup-{team}")
        if weekday == 0:
            meeting(
                "Weekly status sync",
                day,
                14,
                90,
                [TEAMS[t][0] for t in TEAMS]
                + ["bob.okafor", "hiro.tanaka", "noah.kim", "sam.cohen"],
                "status-sync",
            )
            meeting(
                "Architecture review",
                day,
                15,
                60,
                ["alice.chen", "bob.okafor", "gina.rossi", "hiro.tanaka"],
                "arch-review",
            )
            for members in TEAMS.values():
                lead = members[0].split(".")[0].title()
                for report in members[1:]:
                    meeting(
                        f"1:1 {lead} / {report.split('.')[0].title()}",
                        day,
                        11,
                        30,
                        [members[0], report],
                        f"1on1-{report}",
                    )
        if weekday == 1 and week % 2 == 0:
            for team in TEAMS:
                meeting(
                    "Sprint planning"
                    if team in ("platform", "web")
                    else "Pipeline review",
                    day,
                    10,
                    90,
                    list(TEAMS[team]),
                    f"planning-{team}",
                )
        if weekday == 4 and week % 2 == 1:
            for team in ("platform", "web"):
                meeting("Sprint retro", day, 15, 60, list(TEAMS[team]), f"retro-{team}")
        if weekday == 3:
            meeting(
                "Weekly report prep", day, 13, 60, list(TEAMS["success"]), "report-prep"
            )
        if weekday == 2 and week % 4 == 0:
            meeting("All-hands", day, 16, 60, everyone, "all-hands")
    for _ in range(_count(330, scale)):
        day = _workday(rng)
        seller = rng.choice(TEAMS["sales"])
        kind = rng.choice(("Discovery call", "Product demo", "Customer call"))
        meeting(
            f"{kind}: {rng.choice(_ACCOUNTS)}",
            day,
            rng.uniform(9, 17),
            rng.choice((30, 45, 60)),
            [seller, *rng.sample(TEAMS["sales"], 1)],
            None,
        )
    for _ in range(_count(70, scale)):
        day = _workday(rng)
        meeting(
            f"QBR: {rng.choice(_ACCOUNTS)}",
            day,
            14,
            60,
            [*rng.sample(TEAMS["success"], 2), rng.choice(TEAMS["sales"])],
            None,
        )
    for _ in range(_count(18, scale)):
        day = _workday(rng, 0.3, 1.0)
        meeting("Incident review", day, 16, 45, rng.sample(TEAMS["platform"], 4), None)
    for index in range(_count(10, scale)):
        day = _workday(rng)
        topic = ("Kubernetes", "Testing", "Accessibility", "SQL", "Security")[index % 5]
        meeting(
            f"Brown bag: {topic}",
            day,
            12,
            60,
            rng.sample(TEAMS["platform"] + TEAMS["web"], 8),
            None,
        )
    return records


_DEAL_KINDS = ("expansion", "new logo", "renewal")
_ACCOUNTS = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Wonka",
    "Vandelay",
    "Gringotts",
    "Oscorp",
    "Duff",
)


def _crm(rng: random.Random, scale: float) -> list[Any]:
    records: list[Any] = []
    for index in range(_count(560, scale)):
        owner = rng.choice(TEAMS["sales"])
        segment = rng.choices(("smb", "mid-market", "enterprise"), (0.45, 0.4, 0.15))[0]
        amount = {
            "smb": rng.uniform(4_000, 18_000),
            "mid-market": rng.uniform(20_000, 70_000),
            "enterprise": rng.uniform(80_000, 220_000),
        }[segment]
        created = _at(_workday(rng, 0.0, 0.85), 10)
        outcome = rng.choices(("won", "lost", "open"), (0.3, 0.4, 0.3))[0]
        closed = (
            created + timedelta(days=rng.uniform(10, 70)) if outcome != "open" else None
        )
        if closed and closed > _at(_DAYS - 1, 17):
            closed, outcome = None, "open"
        stage = {
            "won": "Closed Won",
            "lost": "Closed Lost",
            "open": rng.choice(("Qualification", "Proposal", "Negotiation")),
        }[outcome]
        ident = f"006{index:012d}"
        account = rng.choice(_ACCOUNTS)
        records.append(
            WorkItem(
                id=ident,
                kind="opportunity",
                title=f"{account} - {segment} {rng.choice(_DEAL_KINDS)}",
                url=f"https://northwind.my.salesforce.example/{ident}",
                project="Opportunity",
                people=(email(owner),),
                status=stage,
                state={"won": "done", "lost": "cancelled", "open": "open"}[outcome],
                created_at=created,
                updated_at=closed or created + timedelta(days=3),
                closed_at=closed,
                effort=round(rng.uniform(2, 10), 1),
                value=round(amount, 2),
                attributes={
                    "stage": stage,
                    "is_won": outcome == "won",
                    "is_closed": outcome != "open",
                    "segment": segment,
                    "account": account,
                    "lead_source": rng.choice(("Web", "Partner", "Outbound", "Event")),
                },
            )
        )
    for index in range(_count(480, scale)):
        owner = rng.choice(TEAMS["success"])
        created = _at(_workday(rng), rng.uniform(8, 17))
        # Resolution gets faster through the quarter: the customer perspective improves.
        share = (created - _at(0)).days / _DAYS
        hours = rng.uniform(4, 60) * (1.2 - 0.7 * share)
        closed = created + timedelta(hours=hours)
        ident = f"500{index:012d}"
        records.append(
            WorkItem(
                id=ident,
                kind="case",
                title=rng.choice(
                    (
                        "Onboarding question",
                        "Billing dispute",
                        "Bug report",
                        "Feature request",
                        "Outage report",
                    )
                ),
                url=f"https://northwind.my.salesforce.example/{ident}",
                project="Case",
                people=(email(owner),),
                status="Closed",
                state="done",
                created_at=created,
                updated_at=closed,
                closed_at=closed,
                effort=round(rng.uniform(0.5, 4), 1),
                attributes={
                    "priority": rng.choices(
                        ("Low", "Medium", "High", "Critical"), (0.3, 0.4, 0.2, 0.1)
                    )[0],
                    "origin": rng.choice(("Email", "Phone", "Web")),
                },
            )
        )
    for index in range(_count(900, scale)):
        team = "sales" if rng.random() < 0.7 else "success"
        owner = rng.choice(TEAMS[team])
        subtype = rng.choices(("call", "email", "task"), (0.5, 0.3, 0.2))[0]
        when = _at(_workday(rng), rng.uniform(8, 18))
        minutes = (
            rng.choice((10, 15, 30, 45))
            if subtype == "call"
            else rng.choice((5, 10, 20))
        )
        ident = f"00T{index:012d}"
        subject = {
            "call": f"Call {rng.choice(_ACCOUNTS)}",
            "email": "Follow-up e-mail",
            "task": rng.choice(
                ("Update CRM notes", "Prepare weekly pipeline report", "Send proposal")
            ),
        }[subtype]
        records.append(
            WorkItem(
                id=ident,
                kind=subtype,
                title=subject,
                url=f"https://northwind.my.salesforce.example/{ident}",
                project="Task",
                people=(email(owner),),
                status="Completed",
                state="done",
                created_at=when,
                updated_at=when,
                closed_at=when,
                effort=round(minutes / 60, 2),
                attributes={"task_subtype": subtype},
            )
        )
    return records


def _metrics(rng: random.Random, scale: float) -> list[Any]:
    records: list[Any] = []
    weeks = _DAYS // 7 + 1
    for week in range(weeks):
        at = _at(min(week * 7 + 4, _DAYS - 1), 18)
        share = week / (weeks - 1)
        # NPS climbs; uptime stays flat (even slips) despite the growing
        # reliability work; cloud cost per customer falls, then climbs back
        # in September while customers keep getting happier: a trade-off.
        points = {
            "nps": 31 + 12 * share + rng.uniform(-1.5, 1.5),
            "uptime": 99.63 - 0.02 * share + rng.uniform(-0.003, 0.003),
            "cloud_cost_per_customer": 42
            - 14 * min(share, 0.5) * 2
            + (20 * (share - 0.6) if share > 0.6 else 0)
            + rng.uniform(-0.3, 0.3),
            "training_hours": 12 * (week + 1) * (0.6 + 0.4 * share),
            "dashboard_weekly_users": 20 + 30 * share + rng.uniform(-2, 2),
        }
        for name, value in points.items():
            records.append(MetricPoint(name=name, at=at, value=round(value, 3)))
    return records


def demo_config(seed: int = 7) -> str:
    """The demo workspace's ``headway.toml``."""
    template = resources.files("headway").joinpath("demo.toml").read_text("utf-8")
    return template.replace("{people}", _people_tables()).replace("{seed}", str(seed))


def _people_tables() -> str:
    lines = []
    for team in ("platform", "web"):
        for person in TEAMS[team]:
            lines.append(f'[people."{email(person)}"]')
            lines.append(
                f'aliases = ["{github_login(person)}", "{jira_account(person)}"]'
            )
    for team in ("sales", "success"):
        for person in TEAMS[team]:
            lines.append(f'[people."{email(person)}"]')
            lines.append(f'aliases = ["{jira_account(person)}"]')
    return "\n".join(lines)
