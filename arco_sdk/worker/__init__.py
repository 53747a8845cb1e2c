"""The worker runtime: receives WorkerDispatchEnvelopes, executes assets, calls back."""
