"""Run the headway command line with a pause inside a store transaction on cue.

A test-only launcher: ``python launcher.py sync`` is ``headway sync``, except
that when ``HEADWAY_TEST_PAUSE`` names a transaction, the process writes
``paused`` to the file descriptor ``HEADWAY_TEST_SIGNAL_FD`` while that
transaction is open, and waits there for ever (to be killed); or, when
``HEADWAY_TEST_RESUME_FD`` names another descriptor, until a line can be
read from it (or it is closed), and then goes on as if nothing happened.
Production code has no hooks for this: the launcher wraps the store's
methods.

``HEADWAY_TEST_PAUSE`` is ``STREAM:N:STAGE``: the N-th page of that stream
(of any stream, for ``*``) written by this process, paused ``items`` (its
items written, its state not yet) or ``commit`` (everything written, not yet
committed); or ``finish:1:commit``, the transaction recording how the run
ended; or ``score:1:commit``, the first transaction of ``headway score``
(any command that takes the store's lock for another purpose than a sync,
by that purpose).

``HEADWAY_TEST_MAX_PAGES=N`` lets the store grow by N database pages after
it is opened, and no more: a disk that fills up during the sync.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from headway.cli import main
from headway.store import Store


class _Cue:
    def __init__(self, spec: str):
        stream, number, stage = spec.split(":")
        self.stream, self.number, self.stage = stream, int(number), stage
        self.seen = 0
        self.armed = False

    def enter(self, stream: str, *, page: bool = False) -> None:
        if stream == self.stream or (page and self.stream == "*"):
            self.seen += 1
            self.armed = self.seen == self.number

    def pause(self, stage: str) -> None:
        if not (self.armed and stage == self.stage):
            return
        fd = int(os.environ["HEADWAY_TEST_SIGNAL_FD"])
        os.write(fd, b"paused\n")
        resume = os.environ.get("HEADWAY_TEST_RESUME_FD")
        if resume is None:
            threading.Event().wait()
        with os.fdopen(int(resume)) as go:
            go.readline()
        self.armed = False


def _install_pause(cue: _Cue) -> None:
    write_page = Store.write_page
    insert_items = Store._insert_items
    finish_run = Store.finish_run
    transaction = Store.transaction
    acquire_lock = Store.acquire_lock

    def paused_write_page(self: Store, source: str, run_id: int, page: Any) -> Any:
        cue.enter(page.stream, page=True)
        try:
            return write_page(self, source, run_id, page)
        finally:
            cue.armed = False

    def paused_insert_items(self: Store, *args: Any) -> int:
        stored = insert_items(self, *args)
        cue.pause("items")
        return stored

    def paused_finish_run(self: Store, *args: Any, **kwargs: Any) -> None:
        cue.enter("finish")
        try:
            finish_run(self, *args, **kwargs)
        finally:
            cue.armed = False

    def paused_acquire_lock(self: Store, purpose: str = "sync") -> None:
        acquire_lock(self, purpose)
        if purpose != "sync":
            cue.enter(purpose.replace(" ", "-"))

    @contextlib.contextmanager
    def paused_transaction(self: Store, **options: Any) -> Iterator[Any]:
        with transaction(self, **options) as conn:
            yield conn
            cue.pause("commit")

    Store.write_page = paused_write_page  # type: ignore[method-assign]
    Store._insert_items = paused_insert_items  # type: ignore[method-assign]
    Store.finish_run = paused_finish_run  # type: ignore[method-assign]
    Store.transaction = paused_transaction  # type: ignore[method-assign]
    Store.acquire_lock = paused_acquire_lock  # type: ignore[method-assign]


def _limit_growth(pages: int) -> None:
    open_store = Store.open.__func__  # type: ignore[attr-defined]

    def limited_open(cls: type[Store], *args: Any, **kwargs: Any) -> Store:
        store = open_store(cls, *args, **kwargs)
        count = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {count + pages}")
        return store

    Store.open = classmethod(limited_open)  # type: ignore[method-assign,assignment]


if __name__ == "__main__":
    if spec := os.environ.get("HEADWAY_TEST_PAUSE"):
        _install_pause(_Cue(spec))
    if pages := os.environ.get("HEADWAY_TEST_MAX_PAGES"):
        _limit_growth(int(pages))
    main(sys.argv[1:])
