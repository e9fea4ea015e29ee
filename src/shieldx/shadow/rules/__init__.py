"""Rule sets and the decision path: rules, records, the catalog, enforcement, routing, evaluation workers."""
