"""What scoring providers share: the aggregation functions and how a row that could not be scored reads."""
