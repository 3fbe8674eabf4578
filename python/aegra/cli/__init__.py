"""The `aegra` command line."""
