"""What happened: the audit log writer and domain events, below every domain that records them."""
