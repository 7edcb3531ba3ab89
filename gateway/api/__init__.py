"""HTTP API handlers of the gateway."""
