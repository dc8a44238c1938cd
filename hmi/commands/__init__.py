"""The command service: every write to the plant, select-before-operate, verified."""
