"""Fold handlers, one module per aggregate; :mod:`arco_core.orchestration.fold` dispatches to them.

Each handler takes the projection tables, one parsed payload and its :class:`FoldEvent`, and
returns whether the event applied (False: rejected, nothing changed).
"""
