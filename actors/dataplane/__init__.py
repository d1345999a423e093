"""The data plane: how an eye's stimuli, its outputs and a model's pixels move between the
processes of one machine without thespian, which keeps the control plane (creating,
supervising and placing actors). docs/architecture.md draws the path of a snapshot.

- eye_link: the gateway's Unix sockets (outputs, a Session's inputs and routes) and a
  cortex's stimuli pipe;
- routes: the gateway's side of an eye's pipes (a stimulus written down each cortex's);
- holder_link: a cortex's socket to a model holder on its machine;
- datagrams: one pickle a datagram, for the pipes and the holder link;
- shared_pixels: snapshots and pixels in memory files, only a handle in the message;
- watching: the actors' side, a base that has thespian watch their files and calls a
  handler for each one ready.
"""
