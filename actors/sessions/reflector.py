"""A tiny actor that tells a caller its own actor address.

The bridge's receive thread needs its address so Sessions can send to it; an
external context cannot read its own address, but an actor sees it as the sender.
"""

import os

from thespian.actors import ActorTypeDispatcher

from actors.messages import WhoAmI, YouAre


class Reflector(ActorTypeDispatcher):
    def receiveMsg_WhoAmI(self, message: WhoAmI, sender) -> None:
        self.send(sender, YouAre(sender, os.getsid(0), os.getppid()))
