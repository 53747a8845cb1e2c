"""Assets for the end-to-end mesh tests (loaded by real worker processes).

``dag`` holds small purpose-built assets (fan-out/fan-in, flaky, broken, slow, victim,
counted); ``chaos`` generates a 100-task graph. Assets coordinate with the tests through
marker files under ``$E2E_MARKER_DIR`` (set through the mesh's worker env), named after
the run so concurrent runs never share a marker.
"""
