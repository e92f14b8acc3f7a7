"""People: face tracks found by the detect stage, clustered per tenant into named persons."""
