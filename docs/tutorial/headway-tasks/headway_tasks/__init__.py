"""headway connector for the Tasks API: the tutorial's connector.

headway finds this module through the entry point in ``pyproject.toml``
(``[project.entry-points.headway]``) and calls its hook implementations.
"""

from collections.abc import Callable

from headway_sdk import hookimpl

from .connector import Tasks, TasksConnector, TasksSettings

__all__ = ["Tasks", "TasksConnector", "TasksSettings", "register_connectors"]


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    """Register the connector that ``plugin = "tasks"`` selects."""
    register("tasks", TasksConnector.build, description="the Tasks API")
