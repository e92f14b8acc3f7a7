"""GraphQL of people: the Person node, the people list and the editors' corrections."""
