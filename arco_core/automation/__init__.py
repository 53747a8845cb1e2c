"""Time- and event-driven triggers (schedules), as pure domain logic: no I/O, no clock."""
