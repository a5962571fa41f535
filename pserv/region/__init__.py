"""
The region controller: the store of intent, the REST API, and the only
process that touches the database.
"""
