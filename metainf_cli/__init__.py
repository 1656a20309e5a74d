"""The `metainf` command line: one sub-command group per role."""
