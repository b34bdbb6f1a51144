"""The pure domain of quickwins: aggregates, events, rules and command models.

Nothing here does I/O or reads a clock: time comes in with every command.
"""
