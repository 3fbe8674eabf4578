"""What `aegra init` writes into a new project (see aegra/cli/scaffold.py).

These files are copied, not imported from here: `common/` goes into every project's package,
beside the files of the chosen template folder, so a generated project depends on nothing in Aegra.
"""
