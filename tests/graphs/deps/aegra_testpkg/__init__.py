"""A package in a `dependencies` folder, imported as `aegra_testpkg.chain:graph`."""
