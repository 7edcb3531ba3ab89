"""The Chinese NLU: a Rasa project plus the client and tooling the gateway uses."""
