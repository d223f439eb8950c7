"""See dfdc_lake.train for what lives here."""
