"""The Watching base (actors/dataplane/watching.py), pure: what thespian is asked to watch
after each message, and which handlers a WatchMessage calls. An actor instance is driven
by hand, as thespian would (receiveMessage with the message and its sender); no actor
system, no files (file numbers are only numbers here)."""

from thespian.actors import ActorExitRequest, ThespianWatch, WatchMessage

from actors.dataplane.watching import Watching


class Reader(Watching):
    """Watches what it is told to; each handler notes that it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[int] = []

    def note(self, fd: int):
        return lambda: self.ran.append(fd)

    def receiveMsg_str(self, message: str, sender) -> None:
        verb, fd = message.split()
        if verb == "watch":
            self.watch_file(int(fd), self.note(int(fd)))
        else:
            self.unwatch_file(int(fd))


def watching(result) -> list[int] | None:
    """What thespian watches after a message whose receiveMessage returned `result`."""
    return result.filenos if isinstance(result, ThespianWatch) else None


def test_the_watched_files_are_asked_for_after_every_message_in_the_order_watched():
    actor = Reader()
    assert watching(actor.receiveMessage("unwatch 3", None)) is None  # (nothing yet)
    assert watching(actor.receiveMessage("watch 7", None)) == [7]
    assert watching(actor.receiveMessage("watch 3", None)) == [7, 3]
    assert watching(actor.receiveMessage(WatchMessage([3]), None)) == [7, 3]
    assert actor.ran == [3]
    assert watching(actor.receiveMessage("unwatch 7", None)) == [3]
    assert watching(actor.receiveMessage("unwatch 3", None)) is None


def test_nothing_is_watched_after_the_actor_is_asked_to_exit():
    actor = Reader()
    actor.receiveMessage("watch 7", None)
    assert watching(actor.receiveMessage(ActorExitRequest(), None)) is None


def test_a_handler_that_raises_is_logged_and_the_others_still_run_and_stay_watched(caplog):
    actor = Reader()
    for fd in (4, 5, 6):
        actor.receiveMessage(f"watch {fd}", None)

    def broken() -> None:
        raise OSError("a broken pickle")

    actor.watch_file(5, broken)
    # (thespian would watch nothing after a receiveMessage that raised: the actor would be deaf)
    assert watching(actor.receiveMessage(WatchMessage([4, 5, 6]), None)) == [4, 5, 6]
    assert actor.ran == [4, 6]
    assert "Reader failed reading its file 5; it keeps watching" in caplog.text
    assert "a broken pickle" in caplog.text
    actor.receiveMessage(WatchMessage([5, 6]), None)  # (and it is still called next time)
    assert actor.ran == [4, 6, 6]


def test_a_file_unwatched_by_an_earlier_handler_is_not_read():
    actor = Reader()
    actor.receiveMessage("watch 9", None)

    def closes_9() -> None:  # (as when a holder's link ends: unwatched, closed, its number free)
        actor.ran.append(8)
        actor.unwatch_file(9)

    actor.watch_file(8, closes_9)
    assert watching(actor.receiveMessage(WatchMessage([8, 9]), None)) == [8]
    assert actor.ran == [8]


def test_a_file_watched_inside_a_handler_is_asked_for_at_the_end_of_that_message():
    actor = Reader()

    def accepts() -> None:  # (as a holder's listener takes a cortex's connection)
        actor.watch_file(12, actor.note(12))

    actor.watch_file(11, accepts)
    assert watching(actor.receiveMessage(WatchMessage([11]), None)) == [11, 12]
    assert actor.ran == []  # (12 was not ready in that message)
    actor.receiveMessage(WatchMessage([12]), None)
    assert actor.ran == [12]


def test_a_ready_file_nobody_watches_is_passed_over():
    actor = Reader()
    actor.receiveMessage("watch 2", None)
    assert watching(actor.receiveMessage(WatchMessage([30, 2]), None)) == [2]
    assert actor.ran == [2]
