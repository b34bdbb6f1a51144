"""Read models built from the notification log: views and the projections that feed them.

Each view is a tracking recorder: its rows and the log position they reflect
are committed in one transaction, so a crash never double-applies or skips an
event, and a view can be emptied and rebuilt from position 0. This package
imports only `domain` and third-party libraries.
"""
