"""The database schema: versioned migrations, backend detection, partition upkeep."""
