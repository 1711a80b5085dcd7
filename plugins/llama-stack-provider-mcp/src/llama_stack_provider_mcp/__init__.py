"""remote::model-context-protocol: Model Context Protocol servers as tool groups."""
