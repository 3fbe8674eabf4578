"""One package per API resource: controllers (thin), schemas (msgspec Structs), services (rules)."""
