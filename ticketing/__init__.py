"""The ticket store: models, migrations and the services that change tickets."""
