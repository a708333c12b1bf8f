"""Demo data: Xinxiang's regions, a synthetic population and demo staff accounts (`flask seed-demo`)."""
