"""Frameworks as data: framework → controls → checks, one YAML file per framework."""
