"""The simulator's shell: files in and out, sides run in processes, the HTML report, the CLI commands."""
