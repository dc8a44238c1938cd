"""MQTT and Sparkplug B: one broker session, payload mappings and the `mqtt://` + `spb://` driver.

`session` owns the broker connection (paho on the asyncio loop), `sparkplug` the Sparkplug B
wire format, `payload` the plain and JSON mappings, `driver` the tag side. Nothing here imports
`hmi`, `screens` or Qt.
"""
