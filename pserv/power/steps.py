"""
:class:`PowerAction`, what every power action is made of: reads, commands
sent once and verified, pauses, milestones, and the safe points where it
may stop.  Its life is a :class:`~pserv.power.lifecycle.Lifecycle`; the
five kinds of action are in :mod:`pserv.power.actions`.

An action drives one node's :class:`~pserv.power.control.PowerControl`
through its steps: read the current state, send at most the commands its
kind needs, and verify each command's effect by reading with backoff.  It
sends each command once; verification only reads.

``cancel()`` stops an action at its next **safe point**:

* before it sends a command (always);
* while it waits for its BMC's turn before a call (as the call's own
  wait is; always, before a command);
* while it reads or pauses before any command is unsettled (always);
* while it waits for a graceful shutdown, if the successor will force the
  node off anyway (``off`` or ``cycle``).

A command already sent is never un-sent and, except in that last case, its
effect is verified before the action stops, so whatever runs next reads a
settled state instead of one still in transition.

A read the BMC refuses as unsupported never leads to a command: only a
driver that declares it cannot read power at all (``can_query`` false:
manual, Wake-on-LAN) is sent a command unread.  What an action reports
(:attr:`PowerAction.state`, :attr:`PowerAction.observed_at`) is only ever
what it read after its last command, or, if it sent none, its first read.
"""

from __future__ import annotations

from types import coroutine
from typing import Any, Callable, ClassVar, Coroutine, Generator, TypeVar

from twisted.internet.defer import (
    CancelledError,
    Deferred,
    TimeoutError as DeferredTimeout,
    fail,
)
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from pserv.power.boot import BootSetting
from pserv.power.control import PowerControl
from pserv.power.errors import (
    PowerError,
    PowerFatalError,
    PowerProtocolError,
    PowerTransientError,
    PowerUnsupportedError,
    PowerVerifyError,
)
from pserv.power.lifecycle import ActionInput, ActionState, Lifecycle
from pserv.power.policy import VerifyPolicy
from pserv.power.states import ActionKind, PowerState

T = TypeVar("T")

ALWAYS: frozenset[ActionKind | None] = frozenset([None, *ActionKind])
"""Safe for any successor and for an explicit cancel (``None``)."""

NEVER: frozenset[ActionKind | None] = frozenset()
"""Never a safe point: a command's effect is still unsettled."""

FORCING_OFF: frozenset[ActionKind | None] = frozenset([ActionKind.OFF, ActionKind.CYCLE])
"""Successors that force a node off themselves, so a graceful wait may end."""

ProgressListener = Callable[["PowerAction", str], "Deferred[object] | None"]
"""Told of each milestone; a Deferred it returns is waited for (a safe point)."""

log = Logger()

# Every step passes these: a module constant is cheaper than an enum's attribute.
_WAIT, _RESUME, _STOPPING = ActionInput.WAIT, ActionInput.RESUME, ActionState.STOPPING


def _call(operation: Callable[[], Deferred[T]]) -> Deferred[T]:
    """
    Call a driver operation; a driver that raises instead of returning a
    failed Deferred gets the same treatment.  (``maybeDeferred`` does more
    than this needs and costs a third of an action's time.)
    """
    try:
        return operation()
    except Exception:
        return fail()


def _result(fired: Deferred[T]) -> T:
    """
    The result of a Deferred that has fired and is not paused, as awaiting
    it gives (its failure raised, and no longer reported as unhandled),
    without the generator an ``await`` costs.
    """
    result = fired.result
    if isinstance(result, Failure):
        info = fired._debugInfo
        if info is not None:
            info.failResult = None
        result.raiseException()
    return result


def _sleep(clock: IReactorTime, seconds: float) -> Deferred[None]:
    """
    Fire with ``None`` after ``seconds``; cancelling it cancels the call.
    (``deferLater`` without the callback it adds to call nothing.)
    """
    sleeping: Deferred[None] = Deferred(lambda _: call.cancel())
    call = clock.callLater(seconds, sleeping.callback, None)
    return sleeping


class _Stopped(Exception):
    """
    The action reached a safe point after ``cancel()``: it is stopping.
    """


class PowerAction:
    """
    One power action on one node.

    :ivar id: the action's id (the region's, when it assigned one).
    :ivar generation: the node's intent generation this action carries.
    :ivar commands: the commands sent so far, in order.
    :ivar state: the last power state read since the last command (each
        command clears it), ``UNKNOWN`` once done through a driver that
        cannot read power.
    :ivar observed_at: when :attr:`state` was read, if it was.
    :ivar error: why it failed, once it has.
    :ivar lifecycle: where it is in its life, and that state's data.
    :ivar progress: the last milestone reached (``"off_verified"`` for a
        cycle that has seen the node off, ``"escalating"`` for a soft off
        about to force the node off).  If ``on_progress`` returns a
        Deferred, the action waits for it before its next command: a cluster
        uses that to have the region record the milestone first, so that a
        crash can never make recovery repeat what was already done.
    :ivar on_read: if set, called with the action after each read that
        answered (the registry answers the queries waiting on a soft off
        with it).
    :ivar boot: the boot device an ``on`` or ``cycle`` sets before its
        first power command, if the request named one.
    :ivar boot_set: whether it has set :attr:`boot` (and read it back, where
        the BMC can say).

    A control may offer ``permit(action)``, a Deferred to wait for before
    each ``power_on`` (a power budget: :mod:`pserv.cluster.starts`), and
    ``turn()``, a Deferred (or ``None``) to wait for before every call to
    its BMC (per-BMC limits: :mod:`pserv.cluster.bmc_gate`); the turn it
    fires with is ended (``over()``) when the call ends.
    """

    kind: ClassVar[ActionKind]

    def __init__(
        self,
        control: PowerControl,
        clock: IReactorTime,
        *,
        action_id: int = 0,
        generation: int = 0,
        policy: VerifyPolicy | None = None,
        on_progress: ProgressListener | None = None,
        boot: BootSetting | None = None,
    ) -> None:
        self.control = control
        self.boot = boot
        self.boot_set = False
        self.clock = clock
        self.id = action_id
        self.generation = generation
        self.policy = policy if policy is not None else control.verify_policy
        self.lifecycle = Lifecycle(self)
        self.commands: list[str] = []
        self.state: PowerState | None = None
        self.observed_at: float | None = None
        self.error: PowerError | None = None
        self.progress: str | None = None
        self.shutdown_until: float | None = None
        """
        Until when (clock seconds) a graceful shutdown asked for of this
        node may still take it off: one this action asked for, or one an
        earlier action asked for and handed on (:meth:`pending_shutdown`);
        ``None`` once a read shows the node off, or a hard command settles it.
        """
        self._on_progress = on_progress
        self.on_read: Callable[[PowerAction], None] | None = None
        self._can_query: bool = getattr(control, "can_query", True)
        self._running: Coroutine[Deferred[Any], Any, PowerState] | None = None
        self._resumer: Callable[[object], None] | None = None

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} id={self.id} gen={self.generation} "
            f"{self.lifecycle.state.value} {self.control.description}>"
        )

    @property
    def done(self) -> Deferred[PowerAction]:
        """Fires with the action itself once it is done."""
        return self.lifecycle.done

    @property
    def stopped(self) -> bool:
        """Whether it stopped at a safe point after ``cancel()`` (or never ran)."""
        return self.lifecycle.stopped

    @property
    def cancelling(self) -> bool:
        """Whether ``cancel()`` was called while the action ran."""
        return self.lifecycle.cancelling

    def start(self) -> Deferred[PowerAction]:
        """
        Begin; the returned Deferred is :attr:`done`.

        :raises InvalidTransition: if it has started or ended already.
        """
        self.begin()
        return self.done

    def begin(self) -> None:
        """
        Begin, as :meth:`start` does, without making :attr:`done`: for a
        caller told of the end by its lifecycle's
        :meth:`~pserv.power.lifecycle.Lifecycle.then` (a fired ``done``
        holds the action, and the action its lifecycle: a cycle only the
        garbage collector frees).

        :raises InvalidTransition: if it has started or ended already.
        """
        self.lifecycle.fire(ActionInput.START)
        self._running = self._run()
        self._resumer = self._resume  # bound once per run, let go of at its end
        self._resume(None)

    def cancel(self, successor: ActionKind | None = None) -> None:
        """
        Stop at the next safe point; one that has not started ends at once.

        :param successor: the kind of action that will run next, or ``None``
            for an operator's cancel; it decides whether a graceful wait may
            end early.  Calling again with a new successor re-decides.
        """
        self.lifecycle.fire(ActionInput.CANCEL, successor)

    async def _run(self) -> PowerState:
        raise NotImplementedError

    def _resume(self, result: object) -> None:
        """
        Drive :meth:`_run` on: send it what the Deferred it awaits fired
        with (throw it a failure), and wait on the next one it awaits; at
        its end, finish or fail.  (What ``Deferred.fromCoroutine`` does,
        without its Deferred, cancellation and context per action: nothing
        cancels an action but :meth:`cancel`, which interrupts the step.)
        """
        running = self._running
        try:
            if isinstance(result, Failure):
                awaited = result.throwExceptionIntoGenerator(running)
            else:
                awaited = running.send(result)
        except StopIteration as e:
            self._running = self._resumer = None
            self._ended(self._finished, e.value)
        except BaseException:
            self._running = self._resumer = None
            self._ended(self._failed, Failure())
        else:
            awaited.addBoth(self._resumer)

    def _ended(self, end: Callable[[Any], None], result: object) -> None:
        """Call ``end`` with the end of :meth:`_run`; what it raises is logged, never raised into the clock."""
        try:
            end(result)
        except Exception:
            log.failure("Power action {action} could not end", action=self)

    def _safe_point(self, safe_for: frozenset[ActionKind | None]) -> None:
        if self.lifecycle.stops_at(safe_for):
            raise _Stopped()

    @coroutine
    def _wait(self, waiting: Deferred[T], safe_for: frozenset[ActionKind | None]) -> Generator[Deferred[T], T, T]:
        """
        Wait on one step; while it is safe for the successor, ``cancel()``
        interrupts it.  A step that has answered already is not waited on.
        It yields the step itself to :meth:`_resume`, which sends back what
        the step fired with (or throws its failure): one generator per wait,
        not a coroutine and the generator of awaiting a Deferred.
        """
        if waiting.called and not waiting.paused:
            return _result(waiting)
        life = self.lifecycle
        life.fire(_WAIT, waiting, safe_for)
        try:
            return (yield waiting)
        except CancelledError:
            if life.state is _STOPPING:
                raise _Stopped() from None
            raise
        finally:
            life.fire(_RESUME)

    def _bounded(self, call: Deferred[T], seconds: float) -> Deferred[T]:
        """``call``, timed out after ``seconds`` unless it has answered already."""
        if not call.called:
            call.addTimeout(seconds, self.clock)
        return call

    def _turn(self) -> Deferred[Any] | None:
        """
        The turn to wait for before a call to the node's BMC, if its control
        offers turns (``turn()``: :mod:`pserv.cluster.bmc_gate`) and the BMC
        has limits; else ``None``.  Every call waits for it before it is
        made and bounded, so the wait is a safe point (for what the call's
        own wait is safe for, and always before a command) and never counts
        against ``read_timeout`` or ``command_timeout``.
        """
        turn = getattr(self.control, "turn", None)
        return None if turn is None else turn()

    @staticmethod
    def _in_turn(calling: Deferred[T], turn: Any) -> Deferred[T]:
        """``calling``, which ends ``turn`` (if any) when it ends: answered, failed, timed out or cancelled."""
        return calling if turn is None else calling.addBoth(turn.over)

    def _pause(self, seconds: float, safe_for: frozenset[ActionKind | None]) -> Generator[Deferred[None], None, None]:
        """
        Wait ``seconds``, a safe point for ``safe_for`` before and during;
        awaited where it is called (the wait itself is the coroutine: one
        fewer per pause).
        """
        self._safe_point(safe_for)
        return self._wait(_sleep(self.clock, seconds), safe_for)

    def pending_shutdown(self) -> float | None:
        """
        The deadline of a graceful shutdown this action leaves unsettled for
        whatever runs next on the node (a ``soft_off`` superseded at its wait
        by an ``off`` that was itself superseded before sending, say), or
        ``None``.
        """
        until = self.shutdown_until
        return until if until is not None and until > self.clock.seconds() else None

    async def _read(self, safe_for: frozenset[ActionKind | None]) -> PowerState:
        self._safe_point(safe_for)
        asked = self._turn()
        turn = None if asked is None else await self._wait(asked, safe_for)
        reading = self._in_turn(self._bounded(_call(self.control.query), self.policy.read_timeout), turn)
        try:
            if reading.called and not reading.paused:
                state = _result(reading)
            else:
                state = await self._wait(reading, safe_for)
            if type(state) is not PowerState:
                state = PowerState(state)
        except (_Stopped, PowerError):
            raise
        except DeferredTimeout:
            raise PowerTransientError(
                f"{self.control.description}: no answer to a power read "
                f"within {self.policy.read_timeout:g}s"
            ) from None
        except Exception as e:
            raise PowerTransientError(f"{self.control.description}: read failed: {e}") from e
        self.state = state
        self.observed_at = self.clock.seconds()
        if state is PowerState.OFF:
            self.shutdown_until = None
        if self.on_read is not None:
            self.on_read(self)
        return state

    async def _read_current(self) -> PowerState | None:
        """
        The node's state before acting; ``None``, without reading, when the
        driver declares that it cannot read power.
        """
        if not self._can_query:
            return None
        return await self._read_retrying(ALWAYS, "nothing was sent")

    async def _read_retrying(
        self, safe_for: frozenset[ActionKind | None], withheld: str
    ) -> PowerState:
        """
        Read, retrying transient failures within the policy's
        ``query_deadline``.  A read the BMC refuses as unsupported is not
        retried, and never taken for a driver that cannot read.

        :param withheld: what is not done if no read succeeds, for the error.
        :raises PowerUnsupportedError: the BMC refused the read.
        :raises PowerTransientError: no read succeeded in time.
        """
        started = self.clock.seconds()
        attempt = 0
        while True:
            try:
                return await self._read(safe_for)
            except PowerUnsupportedError as e:
                raise PowerUnsupportedError(
                    f"{self.control.description}: the BMC refused to read power, "
                    f"so {withheld}; it answered: {e}"
                ) from e
            except PowerFatalError:
                raise
            except PowerError as e:
                last_error = e
            attempt += 1
            await self._again(started, attempt, safe_for, lambda waited, tried: PowerTransientError(
                f"could not read the power state after {waited:g}s and "
                f"{tried} read(s), so {withheld}; last error: {last_error}"
            ))

    def _again(self, started: float, attempt: int, safe_for: frozenset[ActionKind | None],
               gave_up: Callable[[float, int], PowerError]) -> Generator[Deferred[None], None, None]:
        """
        The backoff before try ``attempt`` + 1 of something retried within
        the policy's ``query_deadline`` since ``started``.

        :raises PowerError: ``gave_up(waited, attempt)``, once the deadline has passed.
        """
        waited = self.clock.seconds() - started
        remaining = self.policy.query_deadline - waited
        if remaining <= 0:
            raise gave_up(waited, attempt)
        return self._pause(min(self.policy.backoff(attempt - 1), remaining), safe_for)

    async def _set_boot(self) -> None:
        """
        Set :attr:`boot`, if the request named one, and read it back where
        the BMC can say: before any power command, so that a failure here
        sends none.  Setting a boot device changes no power and is
        idempotent, so a transient failure is retried (within the policy's
        ``query_deadline``, as reads are); a safe point throughout.

        :raises PowerUnsupportedError: the driver cannot set a boot device.
        :raises PowerProtocolError: the BMC reads back another boot device.
        :raises PowerTransientError: no attempt succeeded in time.
        """
        boot = self.boot
        if boot is None:
            return
        self._check_boot()
        control = self.control
        await self._retrying_boot(lambda: control.set_boot_device(boot.device, boot.persistent), "set")
        seen = await self._retrying_boot(control.get_boot_device, "read back")
        if seen is not None and not seen.gives(boot):
            raise PowerProtocolError(
                f"{control.description}: boot device set to {boot}, but the BMC reads back {seen}; "
                "no power command was sent"
            )
        self.boot_set = True

    def _check_boot(self) -> None:
        """
        Refuse at once, before any read or command, a boot device that the
        driver cannot set (SNMP PDU, Wake-on-LAN, manual).

        :raises PowerUnsupportedError: naming the driver.
        """
        if self.boot is not None and not getattr(self.control, "can_set_boot", False):
            raise PowerUnsupportedError(
                f"{self.control.description}: this driver cannot set a boot device, so nothing was sent"
            )

    async def _retrying_boot(self, operation: Callable[[], Deferred[T]], doing: str) -> T:
        """One boot-device call, bounded by ``command_timeout``, transient failures retried."""
        started = self.clock.seconds()
        attempt = 0
        while True:
            self._safe_point(ALWAYS)
            asked = self._turn()
            turn = None if asked is None else await self._wait(asked, ALWAYS)
            calling = self._in_turn(self._bounded(_call(operation), self.policy.command_timeout), turn)
            try:
                return await self._wait(calling, ALWAYS)
            except (_Stopped, PowerFatalError):
                raise
            except DeferredTimeout:
                last_error: Exception = PowerTransientError(
                    f"no answer within {self.policy.command_timeout:g}s")
            except Exception as e:
                last_error = e
            attempt += 1
            await self._again(started, attempt, ALWAYS, lambda waited, tried: PowerTransientError(
                f"{self.control.description}: could not {doing} the boot device after {waited:g}s "
                f"and {tried} attempt(s), so no power command was sent; last error: {last_error}"
            ))

    async def _command(
        self,
        command: str,
        target: PowerState,
        deadline: float | None = None,
        safe_for: frozenset[ActionKind | None] = NEVER,
    ) -> PowerState:
        """
        Send ``command`` once, then verify that the node reaches ``target``.
        """
        send_error = await self._send(command)
        if deadline is None:
            deadline = self.policy.deadline
        return await self._verify(target, deadline, safe_for, send_error)

    async def _send(self, command: str) -> PowerError | None:
        """
        Send one command.  A transient failure is returned, not raised: the
        command may have reached the BMC, so it is verified, never re-sent.
        A power-on under a power budget first waits for its start (a safe
        point: superseded meanwhile, it sends nothing); then any command
        waits for its BMC's turn, as every call does (:meth:`_turn`).
        """
        self._safe_point(ALWAYS)
        if command == "power_on":
            permit = getattr(self.control, "permit", None)
            if permit is not None:
                await self._wait(permit(self), ALWAYS)
        asked = self._turn()
        turn = None if asked is None else await self._wait(asked, ALWAYS)
        self.commands.append(command)
        self.state = self.observed_at = None
        self.shutdown_until = self.clock.seconds() + self.policy.soft_off_timeout if command == "soft_off" else None
        sending = self._in_turn(self._bounded(_call(getattr(self.control, command)), self.policy.command_timeout), turn)
        try:
            if sending.called and not sending.paused:
                _result(sending)
            else:
                await self._wait(sending, NEVER)
        except PowerFatalError:
            raise
        except PowerError as e:
            return e
        except DeferredTimeout:
            return PowerTransientError(
                f"{self.control.description}: no answer to {command} "
                f"within {self.policy.command_timeout:g}s"
            )
        except Exception as e:
            return PowerTransientError(f"{self.control.description}: {command} failed: {e}")
        return None

    async def _verify(
        self,
        target: PowerState,
        deadline: float,
        safe_for: frozenset[ActionKind | None],
        last_error: PowerError | None = None,
    ) -> PowerState:
        if not self._can_query:
            return PowerState.UNKNOWN
        started = self.clock.seconds()
        seen = self.state
        reads = 0
        while True:
            waited = self.clock.seconds() - started
            remaining = deadline - waited
            if remaining <= 0:
                raise PowerVerifyError(target, seen, waited, reads, last_error)
            await self._pause(min(self.policy.backoff(reads), remaining), safe_for)
            reads += 1
            try:
                seen = await self._read(safe_for)
            except PowerUnsupportedError as e:
                raise PowerUnsupportedError(
                    f"{self.control.description}: {self.commands[-1]} was sent, but the BMC "
                    f"refused to read power, so its effect is not verified; it answered: {e}"
                ) from e
            except PowerFatalError:
                raise
            except PowerError as e:
                last_error = e
                continue
            if seen == target:
                return seen

    async def _progress(self, milestone: str) -> None:
        self.progress = milestone
        if self._on_progress is not None:
            recorded = self._on_progress(self, milestone)
            if isinstance(recorded, Deferred):
                await self._wait(recorded, ALWAYS)

    def _finished(self, state: PowerState) -> None:
        self.state = state
        self.lifecycle.fire(ActionInput.FINISH)

    def _failed(self, failure: Failure) -> None:
        if failure.check(_Stopped):
            self.lifecycle.fire(ActionInput.FINISH, True)
            return
        if failure.check(PowerError):
            self.error = failure.value
        else:
            log.failure("Power action {action} crashed", failure, action=self)
            self.error = PowerError(f"internal error: {failure.getErrorMessage()}")
        self.lifecycle.fire(ActionInput.FINISH)
