"""The HTTP layer: the Litestar app factory, lifespan, errors and serialization."""
