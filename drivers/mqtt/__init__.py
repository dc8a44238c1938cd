"""MQTT and Sparkplug B: one broker session, payload mappings and the `mqtt://` + `spb://` driver.

`session` owns the broker connection (paho on the asyncio loop) and `options` its device options;
`sparkplug` the Sparkplug B wire format (on the protobuf classes of `sparkplug_pb`); `payload` the
address grammars and plain/JSON decoding; `edge` the Sparkplug host-side node state; `driver` the
tag side. Nothing here imports `hmi`, `screens` or Qt.
"""
