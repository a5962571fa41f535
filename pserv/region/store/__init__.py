"""
Database work for the region: functions ``work(connection, ...)`` that run
in one transaction on the database pool and return plain dicts in the API's
JSON shape, never live rows.  Times are passed in, never read from a clock.
"""
