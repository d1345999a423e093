"""The home: every eye on MQTT, with Home Assistant discovery (docs/home.md). Pure parts
(topics, what changed, discovery, commands from the house) and one shell (link.py) that
runs the MQTT client on the gateway's event loop. Actors never import any of it."""
