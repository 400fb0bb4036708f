"""The command line: `oms-sourcing` and its commands."""
