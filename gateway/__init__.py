"""The gateway: wires connectors, the intake stream, the NLU and the ticket store."""
