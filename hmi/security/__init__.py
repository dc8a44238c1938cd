"""Users, roles and permissions, password authentication and sessions."""
