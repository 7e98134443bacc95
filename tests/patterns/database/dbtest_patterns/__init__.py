"""Two dependent test patterns that own tables (``ledger``, ``audit``) and one that breaks
the table-prefix rule (``rogue``), used by the database tests as local patterns."""
