"""
The other regions on the same database: what a region tells them, and
which one of them leads.

Several regions may share one PostgreSQL database (docs/operations.md).
Each serves the API, the UI and the RPC of the clusters connected to it,
so a request accepted by one may be for a node whose cluster is connected
to another.  The database stays the truth; a region only tells the others
that there is something for them (:class:`PeerMessage`): actions to hand
over, a cancel or a release to pass on, nodes a cluster now holds.  On
PostgreSQL that is ``NOTIFY`` on the channel :data:`CHANNEL`, which every
region ``LISTEN``\\ s on (:class:`PostgresPeers`).  A message that is lost
(a region restarting) costs time, never work: each region's sweep, and
each cluster's recovery, hand over whatever is still pending.

Work that must happen once across regions (timing out stuck actions,
failing over the nodes of a cluster whose lease has ended, spreading a
group's nodes over its members) is done by the **leader**: the region
whose listening connection holds the advisory lock :data:`LEADER_LOCK`.
The lock goes with the connection, so when the leader dies, or loses the
database, or freezes (PostgreSQL ends its idle session after
:data:`IDLE_SESSION`), another region takes over within seconds.  Each
piece of once-only work also runs under a transaction lock of its own
(:func:`pserv.region.store.leadership.once`), so that even a leader that
does not yet know it has been replaced never runs it beside its successor.

On SQLite there is one region (:mod:`pserv.region.sqlite_lock`): it leads
and has nobody to tell (:class:`Alone`).  The simulation's regions share
one :class:`Hub`.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Protocol, Sequence

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

log = Logger()

CHANNEL = "'pserv_' || left(md5(current_schema()), 16)"
"""
The ``NOTIFY`` channel the regions share, as SQL: one per schema, so that
deployments in several schemas of one database (tests, benchmarks) never
hear each other.
"""

LEADER_LOCK = 0x70736572
"""
The advisory lock the leading region holds on its listening connection
("pser"), with its schema's hash as the lock's second key.
"""

CHECK_SECONDS = 1.0
"""How often a region's listening thread checks its connection and tries to lead."""

IDLE_SESSION = "5s"
"""The listening session's ``idle_session_timeout``: a frozen region's lock is freed this long after."""

MOST_PAYLOAD = 7000
"""The most bytes of one ``NOTIFY`` payload pserv sends (PostgreSQL takes up to 8000)."""

KINDS = ("deliver", "cancel", "release", "adopt", "grouped")
"""
What one region tells the others: ``deliver`` (actions to hand over, to
whichever region has their cluster), ``cancel`` (a node's action, to its
cluster's region: ``ids`` is node, action), ``release`` (nodes the cluster
must give up), ``adopt`` (nodes the cluster now holds, whose outstanding
actions it must recover) and ``grouped`` (the cluster, a member of a group,
connected: the leader spreads its group now; no ``ids``).
"""


@attrs.frozen
class PeerMessage:
    """One thing a region tells the others, from ``sender``."""

    kind: str
    ids: tuple[int, ...]
    cluster: str = ""
    sender: str = ""

    def encode(self) -> str:
        """The ``NOTIFY`` payload: ``sender kind cluster id,id,...`` (names hold no spaces)."""
        return f"{self.sender} {self.kind} {self.cluster or '-'} {','.join(map(str, self.ids))}"

    @classmethod
    def decode(cls, payload: str) -> PeerMessage | None:
        """The message of a payload, or ``None`` if it is not one of pserv's."""
        parts = payload.split(" ")
        if len(parts) != 4 or parts[1] not in KINDS:
            return None
        try:
            ids = tuple(int(i) for i in parts[3].split(",") if i)
        except ValueError:
            return None
        return cls(parts[1], ids, "" if parts[2] == "-" else parts[2], parts[0])

    def split(self) -> list[PeerMessage]:
        """This message as several whose payloads each fit :data:`MOST_PAYLOAD`."""
        if len(self.encode()) <= MOST_PAYLOAD or len(self.ids) < 2:
            return [self]
        half = len(self.ids) // 2
        return [*attrs.evolve(self, ids=self.ids[:half]).split(), *attrs.evolve(self, ids=self.ids[half:]).split()]


Receiver = Callable[[PeerMessage], None]


class Peers(Protocol):
    """A region's link to the other regions on its database."""

    def start(self, name: str, receive: Receiver) -> None:
        """Listen as region ``name``; ``receive`` is called on the reactor with each other region's message."""

    def tell(self, messages: Sequence[PeerMessage]) -> Deferred[None]:
        """Tell every other region; never fails (a lost message costs time only)."""

    def leads(self) -> bool:
        """Whether this region is the leader now."""

    def stop(self) -> None:
        """Stop listening, and leading."""


class Alone:
    """The one region of an SQLite database: it leads until it stops, and tells nobody."""

    def __init__(self) -> None:
        self._leading = True

    def start(self, name: str, receive: Receiver) -> None:
        pass

    def tell(self, messages: Sequence[PeerMessage]) -> Deferred[None]:
        return succeed(None)

    def leads(self) -> bool:
        return self._leading

    def stop(self) -> None:
        self._leading = False


class Hub:
    """
    Regions in one process sharing one database (the simulation, tests):
    every message goes to the others on the clock's next turn, and the
    earliest started region still running leads.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self.members: list[HubPeers] = []

    def join(self) -> HubPeers:
        """A new region's link."""
        return HubPeers(self)

    def leader(self) -> HubPeers | None:
        """The leading member, if any runs."""
        return self.members[0] if self.members else None


class HubPeers:
    """One region's link on a :class:`Hub`."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.name = ""
        self._receive: Receiver | None = None

    def start(self, name: str, receive: Receiver) -> None:
        self.name, self._receive = name, receive
        if self not in self.hub.members:
            self.hub.members.append(self)

    def tell(self, messages: Sequence[PeerMessage]) -> Deferred[None]:
        for member in self.hub.members:
            if member is not self:
                for message in messages:
                    self.hub.clock.callLater(0, member.hear, attrs.evolve(message, sender=self.name))
        return succeed(None)

    def hear(self, message: PeerMessage) -> None:
        """A message from another member, if this one still runs."""
        if self._receive is not None and self in self.hub.members:
            self._receive(message)

    def leads(self) -> bool:
        return self.hub.leader() is self

    def stop(self) -> None:
        if self in self.hub.members:
            self.hub.members.remove(self)
        self._receive = None


class PostgresPeers:
    """
    ``LISTEN``/``NOTIFY`` and the leader's advisory lock on PostgreSQL, on a
    connection of its own served by a thread of its own (it waits for
    notifications; the reactor never does).

    :param url: the region's database URL (SQLAlchemy's form).
    :param publish: runs ``work(connection)`` in a transaction of the
        region's pool, where ``pg_notify`` is sent.
    """

    def __init__(self, url: str, reactor: Any,
                 publish: Callable[..., Deferred[Any]]) -> None:
        self.url = _psycopg_url(url)
        self.reactor = reactor
        self.publish = publish
        self.name = ""
        self._receive: Receiver | None = None
        self._leading = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str, receive: Receiver) -> None:
        self.name, self._receive = name, receive
        self._thread = threading.Thread(target=self._listen, name="pserv-peers", daemon=True)
        self._thread.start()

    def tell(self, messages: Sequence[PeerMessage]) -> Deferred[None]:
        payloads = [m.encode() for message in messages for m in attrs.evolve(message, sender=self.name).split()]
        if not payloads:
            return succeed(None)
        told = self.publish(_notify, payloads)
        told.addErrback(lambda f: log.info("telling the other regions failed ({why}); their sweeps will catch "
                                           "up", why=f.getErrorMessage()))
        return told.addCallback(lambda _: None)

    def leads(self) -> bool:
        return self._leading

    def stop(self) -> None:
        self._stopping.set()
        self._receive = None
        self._leading = False
        if self._thread is not None:
            self._thread.join(timeout=2 * CHECK_SECONDS + 1)
            self._thread = None

    def _listen(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as connection:
                    connection.execute(f"SET idle_session_timeout = '{IDLE_SESSION}'")
                    channel = connection.execute(f"SELECT {CHANNEL}").fetchone()[0]
                    connection.execute(f"LISTEN {channel}")
                    self._serve(connection)
            except psycopg.Error as e:
                self.reactor.callFromThread(self._led, False)
                if not self._stopping.is_set():
                    log.info("the regions' channel failed ({why}); listening again", why=type(e).__name__)
                    self._stopping.wait(CHECK_SECONDS)
        self.reactor.callFromThread(self._led, False)

    def _serve(self, connection: Any) -> None:
        leading = False
        while not self._stopping.is_set():
            if not leading:
                leading = bool(connection.execute("SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))",
                                                  (LEADER_LOCK,)).fetchone()[0])
                if leading:
                    self.reactor.callFromThread(self._led, True)
            else:
                connection.execute("SELECT 1")
            for notification in connection.notifies(timeout=CHECK_SECONDS):
                message = PeerMessage.decode(notification.payload)
                if message is not None and message.sender != self.name:
                    self.reactor.callFromThread(self._heard, message)

    def _led(self, leading: bool) -> None:
        if leading and not self._leading and not self._stopping.is_set():
            self._leading = True
            log.info("region {name} leads the regions on its database", name=self.name)
        elif not leading and self._leading:
            self._leading = False
            log.info("region {name} no longer leads", name=self.name)

    def _heard(self, message: PeerMessage) -> None:
        if self._receive is not None:
            self._receive(message)


def _notify(connection: Any, payloads: Iterable[str]) -> None:
    from sqlalchemy import text

    for payload in payloads:
        connection.execute(text(f"SELECT pg_notify({CHANNEL}, :payload)"), {"payload": payload})


def _psycopg_url(url: str) -> str:
    """An SQLAlchemy PostgreSQL URL as libpq takes it."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
