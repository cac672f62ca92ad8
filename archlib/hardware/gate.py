"""One admission gate per process for heavy work: a real build and forward (the cross-check),
a measurement, a Performer study.

The app serves every session from one process, so a per-session check ("this fits in half
the free memory") lets two sessions each take that half at once. Here each piece of heavy
work states its planned bytes; it is admitted when it fits, together with the bytes already
admitted, in `fraction` of the memory available now, and when fewer than `slots` are
running; otherwise it waits in arrival order, hearing what it waits for, up to a timeout.
Work that could never fit (more than `fraction` of what is available plus what is admitted)
is refused at once, with the limit named. Admission is re-entrant in a thread: work inside
admitted work is counted with it.
"""
from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from archlib.errors import ArchlibError
from archlib.hardware.host import available_memory


class GateBusy(ArchlibError):
    """Heavy work waited longer than its timeout for other heavy work to finish."""


@dataclass
class Ticket:
    """One admitted (or waiting) piece of heavy work."""

    what: str
    need: int
    device: str
    number: int
    since: float = field(default_factory=time.monotonic)


class Gate:
    """A ledger of the planned bytes of the heavy work running in this process (see the module)."""

    def __init__(self, *, fraction: float = 0.5, slots: int = 1,
                 available: Callable[[str], int] = available_memory) -> None:
        self.fraction, self.slots, self.available = fraction, slots, available
        self._cond = threading.Condition()
        self._running: list[Ticket] = []
        self._queue: deque[Ticket] = deque()
        self._numbers = itertools.count(1)
        self._local = threading.local()

    def running(self) -> list[Ticket]:
        """The heavy work admitted now (a copy)."""
        with self._cond:
            return list(self._running)

    def planned(self, device: str = "cpu") -> int:
        """Bytes planned by the work admitted now on `device`."""
        with self._cond:
            return sum(t.need for t in self._running if t.device == device)

    @contextlib.contextmanager
    def admit(self, need: int, what: str, *, device: str = "cpu", timeout: float = 60.0, poll: float = 0.25,
              on_wait: Callable[[str], None] | None = None) -> Iterator[Ticket]:
        """Hold a place for `need` bytes of `what` while the block runs (see the module)."""
        mine: Ticket | None = getattr(self._local, "ticket", None)
        if mine is not None:  # inside admitted work: counted with it
            with self._cond:
                mine.need += need
            try:
                yield mine
            finally:
                with self._cond:
                    mine.need -= need
            return
        ticket = Ticket(what, int(need), device, next(self._numbers))
        self._wait(ticket, timeout, poll, on_wait)
        self._local.ticket = ticket
        try:
            yield ticket
        finally:
            self._local.ticket = None
            with self._cond:
                self._running.remove(ticket)
                self._cond.notify_all()

    def _wait(self, ticket: Ticket, timeout: float, poll: float, on_wait: Callable[[str], None] | None) -> None:
        start = time.monotonic()
        with self._cond:
            self._queue.append(ticket)
        try:
            while True:
                with self._cond:
                    why = self._blocked(ticket)
                    if not why:
                        self._running.append(ticket)
                        return
                waited = time.monotonic() - start
                if waited >= timeout:
                    raise GateBusy(f"{ticket.what} waited {timeout:.0f} s for {why}; try again when it has "
                                   "finished.")
                if on_wait:
                    on_wait(f"Waiting for {why} ({waited:.0f} s of {timeout:.0f} s).")
                with self._cond:
                    self._cond.wait(poll)
        finally:
            with self._cond:
                self._queue.remove(ticket)

    def _blocked(self, ticket: Ticket) -> str:
        """Why `ticket` cannot start now ("" when it can); raises when it never could."""
        held = sum(t.need for t in self._running if t.device == ticket.device)
        have = self.available(ticket.device)
        if ticket.need > self.fraction * (have + held):
            raise ArchlibError(f"{ticket.what} plans {ticket.need / 2**20:,.0f} MiB, more than "
                               f"{self.fraction:.0%} of the {(have + held) / 2**20:,.0f} MiB this host has for "
                               "heavy work; choose a smaller configuration.")
        ahead = [t for t in self._queue if t.number < ticket.number]
        if ahead:
            return f"{len(ahead)} piece(s) of heavy work ahead of it ({ahead[0].what})"
        if len(self._running) >= self.slots:
            return f"other heavy work to finish ({', '.join(t.what for t in self._running)})"
        if held + ticket.need > self.fraction * have:
            return (f"memory: {held / 2**20:,.0f} MiB is planned by {', '.join(t.what for t in self._running)}, "
                    f"and {self.fraction:.0%} of the {have / 2**20:,.0f} MiB available is the bound")
        return ""


#: the gate of this process: every heavy path in archlib and the app goes through it
GATE = Gate()


def admit(need: int, what: str, **kwargs) -> contextlib.AbstractContextManager[Ticket]:
    """GATE.admit: hold a place for `need` planned bytes of heavy work `what` in this process."""
    return GATE.admit(need, what, **kwargs)
