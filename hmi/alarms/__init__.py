"""Alarms: definitions, the ISA-18.2 state machine, the journal and KPIs (see model.py)."""
