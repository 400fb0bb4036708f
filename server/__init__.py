"""The I/O shell around the engine: gRPC services, the store, configuration, command line, metrics."""
