"""The ``kaoqin`` command: one entry point for the server, the edge agent, simulators and the demo."""
