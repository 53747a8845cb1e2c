"""Explicit proto <-> public JSON mappers, one module per route family."""
