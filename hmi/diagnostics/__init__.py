"""Fault early-warning from tag values: frozen and spiking sensors, leaks by mass balance."""
