"""Use cases of the server: they apply the domain rules and talk to adapters through small ports."""
