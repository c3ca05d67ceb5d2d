"""The HTTP resources, one module per part of the domain."""
