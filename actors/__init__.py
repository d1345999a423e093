"""The actors of the brain: sessions, cortexes, and the messages between them.

Nothing here imports the gateway (`brain`) or websockets.
"""
