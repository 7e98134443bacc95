"""A pattern from outside the tree, using only the public API and the extension points."""
