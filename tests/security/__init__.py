"""Security suite: attacks over real HTTP and real services, secrets seeded everywhere."""
