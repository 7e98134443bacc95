"""End-to-end tests: the demo SaaS (examples/saas) driven over HTTP in real processes."""
