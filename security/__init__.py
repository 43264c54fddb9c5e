"""Encryption at rest (the key ring and the vault of clinical fields) and password hashing."""
