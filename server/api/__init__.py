"""The gRPC surface: server factory, services, conversion, interceptors, auth, status mapping."""
