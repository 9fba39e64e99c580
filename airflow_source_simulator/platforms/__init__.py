"""One module per engine: everything that differs between databases lives here."""
