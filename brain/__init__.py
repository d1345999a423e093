"""The brain process: configuration, the websocket gateway, its bridge to the actors, the CLI."""
