"""
Tests for pserv.client, against a contract-checked stub of the region's API.
"""
